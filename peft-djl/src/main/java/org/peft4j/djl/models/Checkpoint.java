package org.peft4j.djl.models;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;

/**
 * A Hugging Face checkpoint as read from a model directory: the parsed {@code config.json} and the
 * tensors by their saved names, each with where it came from, for messages.
 *
 * @param config the parsed {@code config.json}
 * @param configSource the config file, or another source such as an ONNX file
 * @param weights the tensors by their saved names (task-model prefixes such as {@code bert.} included)
 * @param weightsSource the weights file or index
 */
public record Checkpoint(JsonNode config, String configSource, Map<String, Tensor> weights, String weightsSource) {
    /**
     * Reads a model directory: its {@code config.json} first, then its weights
     * ({@link EncoderFamilies#readWeights}).
     *
     * @throws IllegalArgumentException naming the file that is missing
     */
    public static Checkpoint read(Path modelDir) throws IOException {
        JsonNode config = EncoderFamilies.readConfig(modelDir);
        return of(modelDir, config, EncoderFamilies.readWeights(modelDir));
    }

    /** A checkpoint of {@code modelDir} whose config and weights are already read. */
    public static Checkpoint of(Path modelDir, JsonNode config, Map<String, Tensor> weights) {
        return new Checkpoint(config, modelDir.resolve("config.json").toString(), weights,
                EncoderFamilies.weightsSource(modelDir));
    }

    /** Returns the {@code model_type} (see {@link EncoderFamilies#modelType}). */
    public String modelType() {
        return EncoderFamilies.modelType(config);
    }
}
