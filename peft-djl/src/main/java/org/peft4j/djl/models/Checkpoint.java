package org.peft4j.djl.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.safetensors.ModelWeights;
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
     * ({@link #readWeights}).
     *
     * @throws IllegalArgumentException naming the file that is missing
     */
    public static Checkpoint read(Path modelDir) throws IOException {
        JsonNode config = readConfig(modelDir);
        return of(modelDir, config, readWeights(modelDir));
    }

    /** A checkpoint of {@code modelDir} whose config and weights are already read. */
    public static Checkpoint of(Path modelDir, JsonNode config, Map<String, Tensor> weights) {
        return new Checkpoint(config, modelDir.resolve("config.json").toString(), weights,
                weightsSource(modelDir));
    }

    /** Returns the config's {@code model_type}, or an empty string without one. */
    public String modelType() {
        return config.path("model_type").asText("");
    }

    /**
     * Reads a Hugging Face model directory's {@code config.json}.
     *
     * @throws IllegalArgumentException if it is missing or not a JSON object
     */
    public static JsonNode readConfig(Path modelDir) throws IOException {
        Path file = modelDir.resolve("config.json");
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("not a Hugging Face model directory: " + e.getFile() + " does not exist", e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object");
        }
        return root;
    }

    /**
     * Reads a Hugging Face model directory's weights (see {@link ModelWeights}).
     *
     * @throws IllegalArgumentException if it has none
     */
    public static Map<String, Tensor> readWeights(Path modelDir) throws IOException {
        try {
            return ModelWeights.read(modelDir);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("not a Hugging Face model directory: " + e.getFile() + " does not exist", e);
        }
    }

    /** The file a directory's weights are read from, for messages: the single file or the index. */
    public static String weightsSource(Path modelDir) {
        Path single = modelDir.resolve(ModelWeights.SINGLE_FILE);
        return (Files.exists(single) ? single : modelDir.resolve(ModelWeights.INDEX)).toString();
    }
}
