package org.peft4j.djl.serving;

import ai.djl.repository.zoo.Criteria;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.peft4j.api.internal.AtomicFiles;

/**
 * DJL {@link Criteria} for fine-tuned peft4j directories. Either set peft4j's factories on a
 * builder:
 * <pre>{@code
 * Criteria<String, Classifications> criteria =
 *         PeftCriteria.builder(String.class, Classifications.class, Path.of("out/spam-lora")).build();
 * try (ZooModel<String, Classifications> model = criteria.loadModel();
 *         Predictor<String, Classifications> predictor = model.newPredictor()) {
 *     Classifications c = predictor.predict("WIN a FREE cruise!!!");
 * }
 * }</pre>
 * or, as with DJL's Hugging Face translators, give the translator factory to a plain
 * {@code Criteria} and let the directory name the block factory in {@value #SERVING_PROPERTIES},
 * written once with {@link #writeServingProperties}:
 * <pre>{@code
 * Criteria.builder().setTypes(String.class, Classifications.class).optModelPath(dir)
 *         .optTranslatorFactory(new PeftTranslatorFactory()).build();
 * }</pre>
 * (DJL 0.36's model loader picks the translator factory before it reads {@value #SERVING_PROPERTIES},
 * so that file cannot name it for a {@code String -> Classifications} model.)
 * Further arguments: {@link FineTunedDirectory#BASE}, {@link FineTunedDirectory#LABELS},
 * {@link FineTunedDirectory#MAX_LENGTH}, {@link FineTunedDirectory#MERGE}
 * ({@code builder.optArgument("merge", true)}); for language models the generation settings of
 * {@link TextGenerationServing} ({@code builder.optArgument("max_new_tokens", 64)}).
 */
public final class PeftCriteria {
    /** DJL's per-model settings file, read by its model loader. */
    public static final String SERVING_PROPERTIES = "serving.properties";
    /** The argument DJL's model loader takes a {@code BlockFactory} (or its class name) from. */
    private static final String BLOCK_FACTORY = "blockFactory";
    /** The option that tells DJL's model loader the block brings its own weights (no {@code .params} file). */
    private static final String HAS_PARAMETER = "hasParameter";

    private PeftCriteria() {}

    /**
     * A {@code Criteria} builder for the fine-tuned model in {@code directory}, with peft4j's block
     * and translator factories; add DJL options (device, engine, arguments) and build.
     */
    public static <I, O> Criteria.Builder<I, O> builder(Class<I> input, Class<O> output, Path directory) {
        return Criteria.builder().setTypes(input, output).optModelPath(directory)
                .optTranslatorFactory(new PeftTranslatorFactory())
                .optArgument(BLOCK_FACTORY, new PeftBlockFactory())
                .optOption(HAS_PARAMETER, "false");
    }

    /**
     * Writes {@value #SERVING_PROPERTIES} into {@code directory} (atomically), naming peft4j's block
     * factory and telling DJL that the block brings its own weights, so that DJL's model loader
     * builds the model from the directory's path alone.
     */
    public static void writeServingProperties(Path directory) throws IOException {
        String properties = "# peft4j: DJL builds this fine-tuned model with peft4j's block factory\n"
                + BLOCK_FACTORY + "=" + PeftBlockFactory.class.getName() + "\n"
                + "option." + HAS_PARAMETER + "=false\n";
        byte[] bytes = properties.getBytes(StandardCharsets.ISO_8859_1);
        AtomicFiles.write(directory.resolve(SERVING_PROPERTIES), out -> out.write(bytes));
    }
}
