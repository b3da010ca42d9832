package org.peft4j.djl.models.bert;

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
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.EncoderFamily;
import org.peft4j.djl.models.TextClassifier;

/**
 * A whole text classifier as a Hugging Face model directory, the one a
 * {@code *ForSequenceClassification.save_pretrained} writes: {@code config.json} (the
 * architecture, such as {@code architectures: ["BertForSequenceClassification"]}, {@code id2label}
 * and {@code label2id}) and {@code model.safetensors} (the encoder under its prefix, {@code bert.},
 * {@code roberta.} or {@code distilbert.}, and the head under its names, such as
 * {@code classifier.}), plus any tokenizer files given. Every family of
 * {@link org.peft4j.djl.models.EncoderFamilies} reads and writes it ({@link #read}); {@link #load}
 * is the BERT-typed shortcut. What
 * {@code peft4j export} writes after merging a LoRA adapter, and what it and Python's
 * {@code AutoModelForSequenceClassification.from_pretrained} read back.
 *
 * <p>With the {@link ClassifierHead#POOLER} head, Python computes exactly what peft4j computes. A
 * {@link ClassifierHead#MEAN_POOLING} classifier is recorded as {@code "peft4j_head": "mean_pooling"}
 * (a key transformers keeps but does not act on): in Python, mean-pool {@code last_hidden_state}
 * under the attention mask and apply {@code classifier} to it instead of calling the model's head.
 */
public final class ClassifierDirectory {
    /** The config file's name. */
    public static final String CONFIG = "config.json";
    /** The weights file's name. */
    public static final String WEIGHTS = "model.safetensors";
    /** The config key that records a head other than Python's own. */
    public static final String HEAD_KEY = "peft4j_head";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private ClassifierDirectory() {}

    /** A BERT classifier read back from a directory, with its label names in output order. */
    public record Loaded(BertSequenceClassifier classifier, List<String> labels) {}

    /** A classifier of any family read back from a directory, with its label names in output order. */
    public record LoadedClassifier(TextClassifier classifier, List<String> labels) {}

    /**
     * Writes {@code classifier} (whose layers are plain, e.g. after {@code mergeAndUnload}) with its
     * label names into {@code directory} as one unit (see {@link AtomicDirectory}), together with
     * {@code extraFiles} (such as the tokenizer's files, by file name).
     */
    public static void save(TextClassifier classifier, List<String> labels, Path directory,
            Map<String, byte[]> extraFiles) throws IOException {
        if (labels.size() != classifier.numLabels()) {
            throw new IllegalArgumentException(labels.size() + " label names for " + classifier.numLabels() + " outputs");
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(classifier).entrySet()) {
            tensors.put(e.getKey(), TensorConversions.toTensor(e.getValue().getArray()));
        }
        byte[] weights = new SafeTensors(tensors, SafeTensors.PT_METADATA).toBytes();
        byte[] config = JSON.writeValueAsString(config(classifier, labels)).getBytes(StandardCharsets.UTF_8);
        Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
        extraFiles.forEach((name, bytes) -> files.put(name, out -> out.write(bytes)));
        files.put(WEIGHTS, out -> out.write(weights));
        files.put(CONFIG, out -> out.write(config));
        AtomicDirectory.write(directory, files);
    }

    /** The {@code config.json} of a classifier: the family's keys ({@link TextClassifier#huggingFaceConfig()}) and the labels. */
    private static ObjectNode config(TextClassifier classifier, List<String> labels) {
        ObjectNode config = classifier.huggingFaceConfig();
        if (labels.size() == 1) {
            config.put("problem_type", "regression");
        }
        ObjectNode id2label = config.putObject("id2label");
        ObjectNode label2id = config.putObject("label2id");
        for (int i = 0; i < labels.size(); i++) {
            id2label.put(Integer.toString(i), labels.get(i));
            label2id.put(labels.get(i), i);
        }
        if (!classifier.headName().equals(TextClassifier.HUGGING_FACE_HEAD)) {
            config.put(HEAD_KEY, classifier.headName());
        }
        return config;
    }

    /**
     * Reads a directory of a BERT classifier written by {@link #save} or by Python's
     * {@code save_pretrained} of a {@code BertForSequenceClassification} (see {@link #read}).
     *
     * @throws IllegalArgumentException if a file or tensor is missing or does not fit the config,
     *     or the directory holds another family (read it with {@link #read})
     */
    public static Loaded load(Path directory, NDManager manager) throws IOException {
        LoadedClassifier loaded = read(directory, manager);
        if (!(loaded.classifier() instanceof BertSequenceClassifier bert)) {
            throw new IllegalArgumentException(directory.resolve(CONFIG) + ": model_type \""
                    + loaded.classifier().encoder().modelType() + "\" is not a BERT classifier; read it with"
                    + " ClassifierDirectory.read");
        }
        return new Loaded(bert, loaded.labels());
    }

    /**
     * Reads a directory written by {@link #save} or by Python's {@code save_pretrained} of a
     * sequence classifier of any supported family ({@code BertForSequenceClassification},
     * {@code RobertaForSequenceClassification}, {@code XLMRobertaForSequenceClassification},
     * {@code DistilBertForSequenceClassification}, ...): the family by {@code model_type}, the
     * encoder, the head's weights and the label names ({@code id2label}).
     *
     * @throws IllegalArgumentException if a file or tensor is missing or does not fit the config
     */
    public static LoadedClassifier read(Path directory, NDManager manager) throws IOException {
        JsonNode config;
        try {
            config = JSON.readTree(Files.readString(directory.resolve(CONFIG), StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("not a model directory: " + e.getFile() + " does not exist", e);
        }
        List<String> labels = labels(config);
        if (labels.isEmpty()) {
            throw new IllegalArgumentException(directory.resolve(CONFIG) + ": no id2label; cannot tell the classes");
        }
        String head = config.path(HEAD_KEY).asText(TextClassifier.HUGGING_FACE_HEAD);
        Checkpoint checkpoint = Checkpoint.of(directory, config, Checkpoint.readWeights(directory));
        EncoderFamily family = EncoderFamilies.forModelType(EncoderFamilies.modelType(config));
        TextClassifier classifier = family.sequenceClassifier(family.fromHuggingFace(checkpoint, manager), labels.size(),
                head, manager);
        String encoderKeys = classifier.encoderPath() + ".";
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(classifier).entrySet()) {
            if (e.getKey().startsWith(encoderKeys)) {
                continue;
            }
            Tensor t = checkpoint.weights().get(e.getKey());
            long[] expected = e.getValue().getArray().getShape().getShape();
            if (t == null || !Arrays.equals(t.shape(), expected)) {
                throw new IllegalArgumentException(directory + ": the head tensor " + e.getKey()
                        + (t == null ? " is missing (is this a base model without a classification head?)"
                                : " has shape " + Arrays.toString(t.shape()) + ", expected " + Arrays.toString(expected)));
            }
            TensorConversions.copyInto(t, e.getValue().getArray());
        }
        return new LoadedClassifier(classifier, labels);
    }

    /** The label names of a Hugging Face {@code config.json}, by {@code id2label}; empty without it. */
    public static List<String> labels(JsonNode config) {
        JsonNode id2label = config.path("id2label");
        List<String> labels = new ArrayList<>();
        for (int i = 0; id2label.has(Integer.toString(i)); i++) {
            labels.add(id2label.get(Integer.toString(i)).asText());
        }
        if (labels.size() != id2label.size()) {
            List<String> keys = new ArrayList<>();
            id2label.fieldNames().forEachRemaining(keys::add);
            throw new IllegalArgumentException("id2label must number its labels 0, 1, 2, ... without gaps; got keys "
                    + Excerpt.quote(keys.toString()));
        }
        return labels;
    }
}
