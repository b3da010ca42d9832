package org.peft4j.djl.serving;

import ai.djl.Model;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorFactory;
import ai.djl.util.Pair;
import java.io.IOException;
import java.io.Serializable;
import java.lang.reflect.Type;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * DJL's {@link TranslatorFactory} for fine-tuned peft4j directories: it serves every (input,
 * output) pair of the registered {@link ServedTask}s, and gives a model the translator of the
 * task its directory holds, such as {@code String -> Classifications} for a sequence classifier.
 */
public final class PeftTranslatorFactory implements TranslatorFactory, Serializable {
    private static final long serialVersionUID = 1L;

    /** Creates the factory (DJL also creates it by name from {@code serving.properties}). */
    public PeftTranslatorFactory() {}

    @Override
    public Set<Pair<Type, Type>> getSupportedTypes() {
        Set<Pair<Type, Type>> types = new LinkedHashSet<>();
        ServedTasks.all().forEach(task -> types.addAll(task.supportedTypes()));
        return types;
    }

    /**
     * Creates the translator of the task that {@code model}'s directory holds.
     *
     * @throws TranslateException if the directory cannot be read, or its task does not serve
     *     {@code input -> output} (the message names the types it serves)
     */
    @Override
    public <I, O> Translator<I, O> newInstance(Class<I> input, Class<O> output, Model model, Map<String, ?> arguments)
            throws TranslateException {
        try {
            FineTunedDirectory directory = FineTunedDirectory.read(model.getModelPath(), arguments);
            ServedTask task = ServedTasks.forTask(directory.taskType(), model.getModelPath());
            if (!task.supportedTypes().contains(new Pair<Type, Type>(input, output))) {
                throw new TranslateException(model.getModelPath() + " holds a " + task.taskType() + " model, which serves "
                        + task.supportedTypes().stream().map(p -> p.getKey().getTypeName() + " -> "
                                + p.getValue().getTypeName()).toList() + ", not " + input.getName() + " -> "
                        + output.getName());
            }
            return task.newTranslator(input, output, model, directory, arguments);
        } catch (IOException | IllegalArgumentException e) {
            throw new TranslateException(model.getModelPath() + ": " + e.getMessage(), e);
        }
    }
}
