package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The registry of causal language model families, keyed by {@code config.json}'s
 * {@code model_type} (as transformers' {@code AutoModelForCausalLM} mapping is), filled from
 * {@code META-INF/services/org.peft4j.djl.models.DecoderFamily}.
 */
public final class DecoderFamilies {
    private static final FamilyRegistry<DecoderFamily> REGISTRY =
            new FamilyRegistry<>(DecoderFamily.class, "causal language model", DecoderFamily::modelTypes);

    private DecoderFamilies() {}

    /**
     * Returns the family that loads {@code modelType}.
     *
     * @throws IllegalArgumentException listing the supported {@code model_type} values
     */
    public static DecoderFamily forModelType(String modelType) {
        return REGISTRY.forModelType(modelType);
    }

    /**
     * Loads the language model of a Hugging Face model directory ({@code config.json} and its
     * weights), whatever its family.
     *
     * @throws IllegalArgumentException if a file is missing, the {@code model_type} is not
     *     supported (the message lists those that are) or the weights do not fit the config
     */
    public static CausalLanguageModel fromHuggingFace(Path modelDir, NDManager manager) throws IOException {
        Checkpoint checkpoint = Checkpoint.read(modelDir);
        return forModelType(checkpoint.modelType()).fromHuggingFace(checkpoint, manager);
    }
}
