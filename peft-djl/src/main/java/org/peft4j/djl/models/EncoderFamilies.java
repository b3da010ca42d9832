package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;

/**
 * The registry of encoder families, keyed by {@code config.json}'s {@code model_type} (as
 * transformers' {@code AutoModel} mapping is), filled from
 * {@code META-INF/services/org.peft4j.djl.models.EncoderFamily}.
 */
public final class EncoderFamilies {
    /** The {@code model_type} a {@code config.json} without one is read as (older BERT exports omit it). */
    public static final String DEFAULT_MODEL_TYPE = "bert";
    private static final FamilyRegistry<EncoderFamily> REGISTRY =
            new FamilyRegistry<>(EncoderFamily.class, "encoder", EncoderFamily::modelTypes);

    private EncoderFamilies() {}

    /**
     * Returns the family that loads {@code modelType}.
     *
     * @throws IllegalArgumentException listing the supported {@code model_type} values
     */
    public static EncoderFamily forModelType(String modelType) {
        return REGISTRY.forModelType(modelType);
    }

    /** Returns the {@code model_type} of a parsed {@code config.json}, {@value #DEFAULT_MODEL_TYPE} when it has none. */
    public static String modelType(JsonNode config) {
        return config.path("model_type").asText(DEFAULT_MODEL_TYPE);
    }

    /**
     * Loads the encoder of a Hugging Face model directory ({@code config.json} and its weights),
     * whatever its family.
     *
     * @throws IllegalArgumentException if a file is missing, the {@code model_type} is not
     *     supported (the message lists those that are) or the weights do not fit the config
     */
    public static TextEncoder fromHuggingFace(Path modelDir, NDManager manager) throws IOException {
        Checkpoint checkpoint = Checkpoint.read(modelDir);
        return forModelType(modelType(checkpoint.config())).fromHuggingFace(checkpoint, manager);
    }

    /**
     * Puts a new sequence classification head on {@code encoder}, chosen by its family (see
     * {@link EncoderFamily#sequenceClassifier}).
     */
    public static TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager) {
        return forModelType(encoder.modelType()).sequenceClassifier(encoder, numLabels, head, manager);
    }

    /**
     * Returns a task model's tensors under the encoder's own names: each name that starts with
     * {@code prefix} (such as {@code roberta.}) without it, the others as they are.
     */
    public static Map<String, Tensor> withoutPrefix(Map<String, Tensor> weights, String prefix) {
        Map<String, Tensor> out = new HashMap<>();
        weights.forEach((key, tensor) -> out.put(key.startsWith(prefix) ? key.substring(prefix.length()) : key, tensor));
        return out;
    }
}
