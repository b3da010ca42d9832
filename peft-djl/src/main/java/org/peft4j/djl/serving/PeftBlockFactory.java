package org.peft4j.djl.serving;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.BlockFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * DJL's {@link BlockFactory} for fine-tuned peft4j directories: DJL's model loader calls it with
 * the directory and the {@code Criteria}'s arguments, and it returns the model that the
 * directory's {@link ServedTask} builds (the base with the adapter loaded, or the whole model),
 * with its weights already in the {@code Model}'s manager. Set the option
 * {@code hasParameter=false} beside it, so that DJL does not look for a {@code .params} file
 * ({@link PeftCriteria} sets both).
 */
public final class PeftBlockFactory implements BlockFactory {
    private static final long serialVersionUID = 1L;

    /** Creates the factory (DJL also creates it by name from {@code serving.properties}). */
    public PeftBlockFactory() {}

    /**
     * Builds the fine-tuned model in {@code modelPath}.
     *
     * @throws IllegalArgumentException if the directory holds no fine-tuned model, or one of a task
     *     no {@link ServedTask} serves
     */
    @Override
    public Block newBlock(Model model, Path modelPath, Map<String, ?> arguments) throws IOException {
        FineTunedDirectory directory = FineTunedDirectory.read(modelPath, arguments);
        return ServedTasks.forTask(directory.taskType(), modelPath).newBlock(model, directory, arguments);
    }
}
