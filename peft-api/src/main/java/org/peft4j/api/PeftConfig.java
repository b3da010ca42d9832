package org.peft4j.api;

/**
 * The settings of one PEFT method, framework-neutral and immutable. Each method's config lives in
 * the method's own package, beside the {@link PeftMethod} that registers it, and maps one to one
 * onto the {@code adapter_config.json} that Hugging Face PEFT reads and writes.
 *
 * <p>Not a sealed interface: Java seals a hierarchy only within one package without a module
 * descriptor, and each method keeps its own package, so {@link PeftMethods} is the closed list.
 */
public interface PeftConfig {
    /** Returns which method this config configures. */
    PeftType peftType();

    /** Returns the task the adapter is for, or null if none was given. */
    TaskType taskType();

    /** Returns the name or path of the base model the adapter belongs to, or null if none was given. */
    String baseModelNameOrPath();

    /**
     * Returns the modules (such as a new classification head) trained whole next to the adapter
     * and saved with it, as Hugging Face PEFT's {@code modules_to_save}.
     */
    java.util.List<String> modulesToSave();

    /**
     * Returns whether the module at {@code path} is one of, or inside one of,
     * {@code modules_to_save} (each entry naming the end of a module path): such a module trains
     * whole, so no method puts adapter weights on it.
     */
    default boolean isSavedWhole(String path) {
        for (String name : modulesToSave()) {
            for (int end = path.indexOf('.'); ; end = path.indexOf('.', end + 1)) {
                if (org.peft4j.api.internal.ModulePatterns.nameMatches(name, end < 0 ? path : path.substring(0, end))) {
                    return true;
                }
                if (end < 0) {
                    break;
                }
            }
        }
        return false;
    }

    /** Returns whether the adapter is meant for inference only (no training). */
    boolean inferenceMode();

    /** Returns a copy of this config with {@code inference_mode} set as given. */
    PeftConfig withInferenceMode(boolean inferenceMode);

    /** Returns a copy of this config with {@code task_type} set as given. */
    PeftConfig withTaskType(TaskType taskType);

    /** Returns a copy of this config with {@code modules_to_save} replaced by {@code modules}. */
    PeftConfig withModulesToSave(java.util.List<String> modules);
}
