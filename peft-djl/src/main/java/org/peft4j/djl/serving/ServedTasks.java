package org.peft4j.djl.serving;

import java.util.List;
import java.util.ServiceLoader;
import org.peft4j.api.TaskType;

/** The {@link ServedTask}s registered in {@code META-INF/services/org.peft4j.djl.serving.ServedTask}. */
final class ServedTasks {
    private static final List<ServedTask> TASKS = ServiceLoader.load(ServedTask.class, ServedTask.class.getClassLoader())
            .stream().map(ServiceLoader.Provider::get).toList();

    private ServedTasks() {}

    /** Returns every registered task. */
    static List<ServedTask> all() {
        return TASKS;
    }

    /**
     * Returns the task that serves {@code taskType}.
     *
     * @throws IllegalArgumentException naming the served tasks if none does
     */
    static ServedTask forTask(TaskType taskType, Object source) {
        for (ServedTask task : TASKS) {
            if (task.taskType() == taskType) {
                return task;
            }
        }
        throw new IllegalArgumentException(source + ": a " + taskType + " model, and DJL serving knows "
                + TASKS.stream().map(ServedTask::taskType).toList() + " (register a ServedTask for it)");
    }
}
