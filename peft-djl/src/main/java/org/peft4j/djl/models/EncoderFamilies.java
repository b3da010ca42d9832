package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.safetensors.ModelWeights;
import org.peft4j.api.safetensors.Tensor;

/**
 * The registry of encoder families, keyed by {@code config.json}'s {@code model_type} (as
 * transformers' {@code AutoModel} mapping is), filled from
 * {@code META-INF/services/org.peft4j.djl.models.EncoderFamily}.
 */
public final class EncoderFamilies {
    /** The {@code model_type} a {@code config.json} without one is read as (older BERT exports omit it). */
    public static final String DEFAULT_MODEL_TYPE = "bert";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, EncoderFamily> BY_TYPE = load();

    private EncoderFamilies() {}

    private static Map<String, EncoderFamily> load() {
        Map<String, EncoderFamily> byType = new TreeMap<>();
        for (EncoderFamily family : ServiceLoader.load(EncoderFamily.class, EncoderFamily.class.getClassLoader())) {
            for (String type : family.modelTypes()) {
                EncoderFamily previous = byType.putIfAbsent(type, family);
                if (previous != null) {
                    throw new IllegalStateException("model_type \"" + type + "\" is registered twice: by "
                            + previous.getClass().getName() + " and " + family.getClass().getName());
                }
            }
        }
        return byType;
    }

    /**
     * Returns the family that loads {@code modelType}.
     *
     * @throws IllegalArgumentException listing the supported {@code model_type} values
     */
    public static EncoderFamily forModelType(String modelType) {
        EncoderFamily family = BY_TYPE.get(modelType);
        if (family == null) {
            throw new IllegalArgumentException("model_type " + Excerpt.quote(modelType)
                    + " is not a supported encoder; supported: " + String.join(", ", BY_TYPE.keySet()));
        }
        return family;
    }

    /** Returns the {@code model_type} of a parsed {@code config.json}, {@value #DEFAULT_MODEL_TYPE} when it has none. */
    public static String modelType(JsonNode config) {
        return config.path("model_type").asText(DEFAULT_MODEL_TYPE);
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
            root = JSON.readTree(Files.readString(file));
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

    /**
     * Loads the encoder of a Hugging Face model directory ({@code config.json} and its weights),
     * whatever its family.
     *
     * @throws IllegalArgumentException if a file is missing, the {@code model_type} is not
     *     supported (the message lists those that are) or the weights do not fit the config
     */
    public static TextEncoder fromHuggingFace(Path modelDir, NDManager manager) throws IOException {
        JsonNode config = readConfig(modelDir);
        EncoderFamily family = forModelType(modelType(config));
        return family.fromHuggingFace(Checkpoint.of(modelDir, config, readWeights(modelDir)), manager);
    }

    /**
     * Puts a new sequence classification head on {@code encoder}, chosen by its family (see
     * {@link EncoderFamily#sequenceClassifier}).
     */
    public static TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager) {
        return forModelType(encoder.modelType()).sequenceClassifier(encoder, numLabels, head, manager);
    }

    /** The file a directory's weights are read from, for messages: the single file or the index. */
    public static String weightsSource(Path modelDir) {
        Path single = modelDir.resolve(ModelWeights.SINGLE_FILE);
        return (Files.exists(single) ? single : modelDir.resolve(ModelWeights.INDEX)).toString();
    }
}
