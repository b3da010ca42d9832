package org.peft4j.djl.bert;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.AtomicFiles;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.StateDicts;
import org.peft4j.djl.TensorConversions;

/**
 * A whole text classifier (encoder and head) as a Hugging Face model directory: {@code config.json}
 * with the architecture and {@code id2label}, and {@code model.safetensors} with the encoder's
 * weights under {@code bert.} and the head's under {@code classifier.}, as
 * {@code BertForSequenceClassification} names them. What {@code peft4j export} writes after merging
 * a LoRA adapter, and what it reads back.
 *
 * <p>One difference from Python's {@code BertForSequenceClassification}: this classifier pools the
 * tokens as {@code peft4j_pooling} says ({@code mean} or {@code cls}, without the pooler layer), so
 * Python code must pool {@code last_hidden_state} the same way before applying {@code classifier}.
 */
public final class ClassifierDirectory {
    /** The config file's name. */
    public static final String CONFIG = "config.json";
    /** The weights file's name. */
    public static final String WEIGHTS = "model.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ClassifierDirectory() {}

    /** A classifier read back from a directory, with its label names in output order. */
    public record Loaded(BertSequenceClassifier classifier, List<String> labels) {}

    /**
     * Writes {@code classifier} (whose layers are plain, e.g. after {@code mergeAndUnload}) with its
     * label names into {@code directory}; each file is replaced atomically.
     */
    public static void save(BertSequenceClassifier classifier, List<String> labels, Path directory) throws IOException {
        if (labels.size() != classifier.numLabels()) {
            throw new IllegalArgumentException(labels.size() + " label names for " + classifier.numLabels() + " outputs");
        }
        BertConfig c = classifier.bert().config();
        ObjectNode config = JSON.createObjectNode();
        config.putArray("architectures").add("BertForSequenceClassification");
        config.put("model_type", "bert");
        config.put("vocab_size", c.vocabSize());
        config.put("hidden_size", c.hiddenSize());
        config.put("num_hidden_layers", c.numHiddenLayers());
        config.put("num_attention_heads", c.numAttentionHeads());
        config.put("intermediate_size", c.intermediateSize());
        config.put("max_position_embeddings", c.maxPositionEmbeddings());
        config.put("type_vocab_size", c.typeVocabSize());
        config.put("layer_norm_eps", c.layerNormEps());
        config.put("hidden_dropout_prob", c.hiddenDropoutProb());
        config.put("attention_probs_dropout_prob", c.attentionProbsDropoutProb());
        config.put("hidden_act", "gelu");
        config.put("position_embedding_type", "absolute");
        ObjectNode id2label = config.putObject("id2label");
        ObjectNode label2id = config.putObject("label2id");
        for (int i = 0; i < labels.size(); i++) {
            id2label.put(Integer.toString(i), labels.get(i));
            label2id.put(labels.get(i), i);
        }
        config.put("peft4j_pooling", classifier.pooling().name().toLowerCase(java.util.Locale.ROOT));
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(classifier).entrySet()) {
            tensors.put(e.getKey(), TensorConversions.toTensor(e.getValue().getArray()));
        }
        Files.createDirectories(directory);
        byte[] weights = new SafeTensors(tensors, SafeTensors.PT_METADATA).toBytes();
        byte[] configBytes = JSON.writeValueAsString(config).getBytes(StandardCharsets.UTF_8);
        Path weightsTmp = AtomicFiles.writeTemporary(directory.resolve(WEIGHTS), out -> out.write(weights));
        try {
            Path configTmp = AtomicFiles.writeTemporary(directory.resolve(CONFIG), out -> out.write(configBytes));
            AtomicFiles.commit(weightsTmp, directory.resolve(WEIGHTS));
            AtomicFiles.commit(configTmp, directory.resolve(CONFIG));
        } finally {
            Files.deleteIfExists(weightsTmp);
        }
    }

    /**
     * Reads a directory written by {@link #save} (or by Python with {@code id2label} and a
     * {@code classifier} head): the encoder, the head's weights and the label names.
     *
     * @throws IllegalArgumentException if a file or tensor is missing or does not fit the config
     */
    public static Loaded load(Path directory, NDManager manager) throws IOException {
        JsonNode config;
        try {
            config = JSON.readTree(Files.readString(directory.resolve(CONFIG)));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("not a model directory: " + e.getFile() + " does not exist", e);
        }
        JsonNode id2label = config.path("id2label");
        List<String> labels = new ArrayList<>();
        for (int i = 0; id2label.has(Integer.toString(i)); i++) {
            labels.add(id2label.get(Integer.toString(i)).asText());
        }
        if (labels.isEmpty()) {
            throw new IllegalArgumentException(directory.resolve(CONFIG) + ": no id2label; cannot tell the classes");
        }
        Pooling pooling = Pooling.valueOf(config.path("peft4j_pooling").asText("cls").toUpperCase(java.util.Locale.ROOT));
        BertModel bert = BertLoader.fromHuggingFace(directory, manager);
        BertSequenceClassifier classifier = new BertSequenceClassifier(bert, labels.size(), pooling).initializeHead(manager);
        Map<String, Tensor> tensors = SafeTensors.read(directory.resolve(WEIGHTS)).tensors();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(classifier).entrySet()) {
            if (!e.getKey().startsWith("classifier.")) {
                continue;
            }
            Tensor t = tensors.get(e.getKey());
            if (t == null || t.elementCount() != e.getValue().getArray().size()) {
                throw new IllegalArgumentException(directory.resolve(WEIGHTS) + ": the head tensor " + e.getKey()
                        + (t == null ? " is missing" : " has shape " + java.util.Arrays.toString(t.shape()) + ", expected "
                        + e.getValue().getArray().getShape()));
            }
            TensorConversions.copyInto(t, e.getValue().getArray());
        }
        return new Loaded(classifier, labels);
    }
}
