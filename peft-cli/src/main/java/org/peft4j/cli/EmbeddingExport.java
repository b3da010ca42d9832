package org.peft4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.OnnxExport;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.models.bert.Pooling;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;

/**
 * Writes a sentence-embedding model whose adapter is merged (or that never had one) as a
 * sentence-transformers model directory: the bare encoder as transformers' {@code AutoModel} saves
 * it ({@code config.json} with {@code architectures} such as {@code BertModel}, and
 * {@code model.safetensors} under the encoder's own names), the tokenizer files, and the pooling
 * as sentence-transformers records it ({@value #MODULES}: Transformer, Pooling in
 * {@value #POOLING_DIR}/, and Normalize when the model normalises; {@value #SENTENCE_BERT_CONFIG}
 * with the token limit). {@code SentenceTransformer(dir)} in Python, peft4j's
 * {@link EmbeddingPooling#fromSentenceTransformers} and another run's {@code model_name_or_path}
 * read the same pooling from it. With ONNX, the base's graph with the merged weights instead of
 * the safetensors (see {@link OnnxExport}), beside the same tokenizer and pooling files.
 */
final class EmbeddingExport {
    /** sentence-transformers' list of modules. */
    static final String MODULES = EmbeddingPooling.MODULES_FILE;
    /** The directory of the Pooling module's config. */
    static final String POOLING_DIR = "1_Pooling";
    /** sentence-transformers' settings of the Transformer module. */
    static final String SENTENCE_BERT_CONFIG = "sentence_bert_config.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String MODULE_PACKAGE = "sentence_transformers.models.";

    private EmbeddingExport() {}

    /**
     * Writes {@code embedder} (plain layers, no adapter) into {@code to} as a Hugging Face and
     * sentence-transformers model directory, with {@code tokenizerFiles} and {@code record} as its run record.
     */
    static void writeHuggingFace(SentenceEmbedder embedder, Map<String, byte[]> tokenizerFiles, RunRecord record,
            Path to) throws IOException {
        TextEncoder encoder = embedder.encoder();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        boolean newPooler = encoder instanceof BertModel bert && !bert.hasPretrainedPooler();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(embedder).entrySet()) {
            if (!(newPooler && e.getKey().startsWith("pooler."))) { // an untrained pooler is no part of the model
                tensors.put(e.getKey(), TensorConversions.toTensor(e.getValue().getArray()));
            }
        }
        byte[] weights = new SafeTensors(tensors, SafeTensors.PT_METADATA).toBytes();
        byte[] config = JSON.writeValueAsBytes(encoderConfig(encoder));
        Map<String, AtomicFiles.Content> files = poolingFiles(embedder, record.cutoffLen(), tokenizerFiles, to);
        files.put(ClassifierDirectory.WEIGHTS, out -> out.write(weights));
        files.put(ClassifierDirectory.CONFIG, out -> out.write(config));
        AtomicDirectory.write(to, files);
        record.write(to);
    }

    /**
     * Writes {@code embedder}'s encoder (plain layers) into the new directory {@code to} as
     * {@value ExportCommand#ONNX_FILE} on the graph of {@code graph}, with the tokenizer and pooling files.
     *
     * @throws IllegalArgumentException if {@code to} exists, or the encoder does not fit the graph
     */
    static void writeOnnx(SentenceEmbedder embedder, PretrainedEncoder graph, Map<String, byte[]> tokenizerFiles,
            int cutoffLen, Path to) throws IOException {
        if (Files.exists(to)) {
            throw new IllegalArgumentException(to + " already exists; export --format onnx writes a new directory:"
                    + " remove it or choose another");
        }
        Map<String, AtomicFiles.Content> files = poolingFiles(embedder, cutoffLen, tokenizerFiles, to);
        files.put(ExportCommand.ONNX_FILE, out -> OnnxExport.write(embedder.encoder(), null, graph, out));
        AtomicDirectory.write(to, files);
    }

    /**
     * Writes the Pooling module's config into {@code to}/{@value #POOLING_DIR} (creating {@code to}) and
     * returns the files that go beside it: the tokenizer's, {@value #MODULES} and {@value #SENTENCE_BERT_CONFIG}.
     */
    private static Map<String, AtomicFiles.Content> poolingFiles(SentenceEmbedder embedder, int cutoffLen,
            Map<String, byte[]> tokenizerFiles, Path to) throws IOException {
        EmbeddingPooling pooling = embedder.pooling();
        ObjectNode poolingConfig = JsonNodeFactory.instance.objectNode();
        poolingConfig.put("word_embedding_dimension", embedder.hiddenSize());
        poolingConfig.put("pooling_mode_cls_token", pooling.pooling() == Pooling.CLS);
        poolingConfig.put("pooling_mode_mean_tokens", pooling.pooling() == Pooling.MEAN);
        poolingConfig.put("pooling_mode_max_tokens", false);
        poolingConfig.put("pooling_mode_mean_sqrt_len_tokens", false);
        byte[] poolingBytes = JSON.writeValueAsBytes(poolingConfig);
        Path poolingFile = to.resolve(POOLING_DIR).resolve(ClassifierDirectory.CONFIG);
        Files.createDirectories(poolingFile.getParent());
        AtomicFiles.write(poolingFile, out -> out.write(poolingBytes));

        ArrayNode modules = JsonNodeFactory.instance.arrayNode();
        module(modules, "", "Transformer");
        module(modules, POOLING_DIR, "Pooling");
        if (pooling.normalize()) {
            module(modules, "2_Normalize", "Normalize");
        }
        byte[] modulesBytes = JSON.writeValueAsBytes(modules);
        ObjectNode sentenceBert = JsonNodeFactory.instance.objectNode();
        sentenceBert.put("max_seq_length", cutoffLen);
        sentenceBert.put("do_lower_case", false);
        byte[] sentenceBertBytes = JSON.writeValueAsBytes(sentenceBert);
        Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
        tokenizerFiles.forEach((name, bytes) -> files.put(name, out -> out.write(bytes)));
        files.put(MODULES, out -> out.write(modulesBytes));
        files.put(SENTENCE_BERT_CONFIG, out -> out.write(sentenceBertBytes));
        return files;
    }

    private static void module(ArrayNode modules, String path, String type) {
        ObjectNode module = modules.addObject();
        module.put("idx", modules.size() - 1);
        module.put("name", Integer.toString(modules.size() - 1));
        module.put("path", path);
        module.put("type", MODULE_PACKAGE + type);
    }

    /**
     * The {@code config.json} of the bare encoder: the keys its family writes for its sequence
     * classifier (the one place each family writes its config), with {@code architectures} naming
     * the bare model class ({@code BertForSequenceClassification} becomes {@code BertModel}).
     */
    private static ObjectNode encoderConfig(TextEncoder encoder) {
        try (NDManager scratch = NDManager.newBaseManager()) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(encoder, 2, TextClassifier.HUGGING_FACE_HEAD,
                    scratch);
            ObjectNode config = classifier.huggingFaceConfig();
            config.putArray("architectures").add(classifier.architecture().replace("ForSequenceClassification", "Model"));
            return config;
        }
    }
}
