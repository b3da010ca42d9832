package org.peft4j.djl.serving;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.util.Pair;
import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.TaskType;

/**
 * One task's side of serving a fine-tuned directory through DJL: how its model is built from the
 * directory's files and which translators turn inputs into the model's inputs and its outputs into
 * results. Implementations are found with {@link java.util.ServiceLoader}: list them in
 * {@code META-INF/services/org.peft4j.djl.serving.ServedTask}. Sequence classification
 * ({@link TextClassificationServing}, {@code String -> Classifications}) is built in; token
 * classification ({@code String -> NamedEntity[]}), embeddings ({@code String -> float[]}) and text
 * generation ({@code String -> String}, {@code String -> TextStream}) plug in the same way.
 */
public interface ServedTask {
    /** Returns the task, as a directory's {@code task_type} (or its architecture) names it. */
    TaskType taskType();

    /** Returns the (input, output) type pairs this task's translators serve. */
    Set<Pair<Type, Type>> supportedTypes();

    /**
     * Builds the fine-tuned model of {@code directory} with its weights in {@code model}'s
     * {@code NDManager}.
     *
     * @param arguments the {@code Criteria}'s arguments (and {@code serving.properties}')
     * @throws IllegalArgumentException if the files do not make a model of this task
     */
    Block newBlock(Model model, FineTunedDirectory directory, Map<String, ?> arguments) throws IOException;

    /**
     * Creates the translator from {@code input} to {@code output} for {@code model}, whose block
     * {@link #newBlock} built.
     *
     * @throws TranslateException if the translator cannot be made (its tokenizer does not load)
     * @throws IllegalArgumentException if the types are not among {@link #supportedTypes()}
     */
    <I, O> Translator<I, O> newTranslator(Class<I> input, Class<O> output, Model model, FineTunedDirectory directory,
            Map<String, ?> arguments) throws TranslateException;
}
