package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.OnnxEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.PoolingMode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;

/**
 * The merged model written as ONNX, run by ONNX Runtime and by langchain4j, against the DJL model
 * it was written from; and the unchanged base, which must come out with its own initializers.
 */
class OnnxExportTest {
    private static final List<String> SENTENCES = List.of(
            "Hi",
            "The quick brown fox jumps over the lazy dog.",
            "URGENT!!! You have WON a $1,000,000 prize. Click here now to claim your reward",
            "Meeting moved to 3pm tomorrow.",
            "Can you send me the slides from yesterday's talk on low-rank adaptation?");

    private static NDManager manager;
    private static BertTokenizer tokenizer;
    private static OrtEnvironment env;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
        tokenizer = MiniLm.tokenizer(128);
        env = OrtEnvironment.getEnvironment();
    }

    @AfterAll
    static void close() {
        tokenizer.close();
        manager.close();
    }

    private static ModelProto parse(byte[] onnx) throws IOException {
        return ModelProto.parseFrom(onnx);
    }

    private static byte[] export(Block model, List<String> labels) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        OnnxExport.write(model, labels, PretrainedEncoder.ALL_MINILM_L6_V2, out);
        return out.toByteArray();
    }

    @Test
    void theUnchangedBaseExportsWithItsOwnInitializers() throws IOException {
        try (NDManager scope = manager.newSubManager()) {
            byte[] source = MiniLm.onnxBytes();
            byte[] exported = export(MiniLm.load(scope), null);
            ModelProto original = parse(source);
            ModelProto copy = parse(exported);
            assertThat(copy.getGraph().getInitializerCount()).isEqualTo(original.getGraph().getInitializerCount());
            int compared = 0;
            for (int i = 0; i < original.getGraph().getInitializerCount(); i++) {
                TensorProto a = original.getGraph().getInitializer(i);
                TensorProto b = copy.getGraph().getInitializer(i);
                assertThat(b.getName()).isEqualTo(a.getName());
                assertThat(b.toByteString()).as(a.getName()).isEqualTo(a.toByteString());
                compared++;
            }
            assertThat(copy.getGraph().getNodeList()).isEqualTo(original.getGraph().getNodeList());
            assertThat(copy.getGraph().getOutputList()).isEqualTo(original.getGraph().getOutputList());
            System.out.printf("unchanged base: %d initializers byte-identical; whole file identical: %s%n", compared,
                    java.util.Arrays.equals(source, exported));
        }
    }

    @Test
    void aMergedLoraClassifierWithMeanPoolingRunsInOnnxRuntime() throws Exception {
        LoraConfig lora = LoraConfig.builder().optR(4).optLoraAlpha(8f).optInitLoraWeights(LoraInit.RANDOM)
                .setTargetModules("query", "value", "intermediate.dense").build();
        checkMergedClassifier(ClassifierHead.MEAN_POOLING, lora);
    }

    @Test
    void aMergedIa3ClassifierWithThePoolerRunsInOnnxRuntime() throws Exception {
        Ia3Config ia3 = Ia3Config.builder().setTargetModules("key", "value", "intermediate.dense")
                .optFeedforwardModules("intermediate.dense").optInitIa3Weights(false).build();
        checkMergedClassifier(ClassifierHead.POOLER, ia3);
    }

    private void checkMergedClassifier(ClassifierHead headKind, org.peft4j.api.PeftConfig config) throws Exception {
        try (NDManager scope = manager.newSubManager()) {
            BertSequenceClassifier classifier = new BertSequenceClassifier(MiniLm.load(scope), 3, headKind)
                    .initializeHead(scope);
            PeftModel peft = Peft.apply(classifier, config);
            NDList inputs = tokenizer.encode(scope, SENTENCES);
            ParameterStore ps = new ParameterStore(scope, false);
            float[] adaptedLogits = classifier.forward(ps, inputs, false).singletonOrThrow().toFloatArray();
            peft.mergeAndUnload();
            float[] logits = classifier.forward(ps, inputs, false).singletonOrThrow().toFloatArray();
            float[] hidden = classifier.bert().encode(ps, inputs.get(0), inputs.get(1), inputs.get(2), false)
                    .toFloatArray();
            // the adapter changed the model (else the test could pass on the base weights)
            assertThat(maxAbsDifference(logits, baseLogits(headKind, classifier, scope, inputs))).isGreaterThan(1e-3);
            assertThat(maxAbsDifference(logits, adaptedLogits)).isLessThan(1e-4);

            Path file = dir.resolve("model.onnx");
            OnnxExport.write(classifier, List.of("a", "b", "c"), PretrainedEncoder.ALL_MINILM_L6_V2, file);
            Map<String, float[]> ort = runOnnx(file, inputs);
            double hiddenDifference = maxAbsDifference(hidden, ort.get(OnnxExport.LAST_HIDDEN_STATE));
            double logitsDifference = maxAbsDifference(logits, ort.get(OnnxExport.LOGITS));
            System.out.printf("%s head, merged %s: ONNX Runtime vs DJL: last_hidden_state %.3g, logits %.3g%n",
                    headKind.recordedName(), config.peftType(), hiddenDifference, logitsDifference);
            assertThat(hiddenDifference).isLessThanOrEqualTo(1e-4);
            assertThat(logitsDifference).isLessThanOrEqualTo(1e-4);
            // the file loads again as a base model, its trained pooler included
            BertModel reloaded = BertLoader.fromOnnx(file, scope);
            assertThat(reloaded.hasPretrainedPooler()).isEqualTo(headKind == ClassifierHead.POOLER);
            float[] reloadedHidden = reloaded.encode(ps, inputs.get(0), inputs.get(1), inputs.get(2), false).toFloatArray();
            assertThat(maxAbsDifference(hidden, reloadedHidden)).isLessThanOrEqualTo(1e-6);
            if (headKind == ClassifierHead.POOLER) {
                float[] pooled = classifier.bert().pooledOutput(ps, inputs.get(0), inputs.get(1), inputs.get(2), false)
                        .toFloatArray();
                assertThat(maxAbsDifference(pooled, reloaded.pooledOutput(ps, inputs.get(0), inputs.get(1),
                        inputs.get(2), false).toFloatArray())).isLessThanOrEqualTo(1e-6);
            }
            ModelProto written = ModelProto.parseFrom(Files.readAllBytes(file));
            assertThat(written.getMetadataPropsList()).anySatisfy(e -> {
                assertThat(e.getKey()).isEqualTo(OnnxExport.LABELS_METADATA);
                assertThat(e.getValue()).isEqualTo("[\"a\",\"b\",\"c\"]");
            });
        }
    }

    /** The logits of the base encoder with the same head: a fresh copy, the merged head's weights copied over. */
    private static float[] baseLogits(ClassifierHead headKind, BertSequenceClassifier merged, NDManager scope,
            NDList inputs) {
        BertSequenceClassifier base = new BertSequenceClassifier(MiniLm.load(scope), 3, headKind).initializeHead(scope);
        var from = org.peft4j.djl.internal.StateDicts.namedParameters(merged);
        org.peft4j.djl.internal.StateDicts.namedParameters(base).forEach((name, p) -> {
            if (name.startsWith("classifier.") || name.startsWith("bert.pooler.")) {
                p.getArray().set(from.get(name).getArray().toFloatArray());
            }
        });
        return base.forward(new ParameterStore(scope, false), inputs, false).singletonOrThrow().toFloatArray();
    }

    @Test
    void anExportedEmbeddingModelLoadsInLangchain4j() throws Exception {
        try (NDManager scope = manager.newSubManager()) {
            BertModel encoder = MiniLm.load(scope);
            Peft.apply(encoder, LoraConfig.builder().optR(8).optLoraAlpha(16f).optInitLoraWeights(LoraInit.RANDOM)
                    .setTargetModules("query", "value").build()).mergeAndUnload();
            Path onnx = dir.resolve("model.onnx");
            OnnxExport.write(encoder, null, PretrainedEncoder.ALL_MINILM_L6_V2, onnx);
            Path tokenizerFile = dir.resolve("tokenizer.json");
            try (InputStream in = MiniLm.resource(MiniLm.TOKENIZER)) {
                Files.copy(in, tokenizerFile);
            }
            OnnxEmbeddingModel langchain = new OnnxEmbeddingModel(onnx, tokenizerFile, PoolingMode.MEAN);
            List<Embedding> theirs = langchain.embedAll(SENTENCES.stream().map(TextSegment::from).toList()).content();

            NDList inputs = tokenizer.encode(scope, SENTENCES);
            NDArray hidden = encoder.encode(new ParameterStore(scope, false), inputs.get(0), inputs.get(1), inputs.get(2),
                    false);
            NDArray pooled = Pooling.MEAN.pool(hidden, inputs.get(1));
            float[] ours = pooled.div(pooled.norm(new int[] {1}, true)).toFloatArray();
            NDArray base = Pooling.MEAN.pool(MiniLm.load(scope).encode(new ParameterStore(scope, false), inputs.get(0),
                    inputs.get(1), inputs.get(2), false), inputs.get(1));
            float[] baseEmbeddings = base.div(base.norm(new int[] {1}, true)).toFloatArray();
            int h = encoder.hiddenSize();
            double worst = 1;
            double closestToBase = -1;
            for (int i = 0; i < SENTENCES.size(); i++) {
                float[] v = theirs.get(i).vector();
                assertThat(v).hasSize(h);
                worst = Math.min(worst, cosine(v, java.util.Arrays.copyOfRange(ours, i * h, (i + 1) * h)));
                closestToBase = Math.max(closestToBase, cosine(v, java.util.Arrays.copyOfRange(baseEmbeddings, i * h,
                        (i + 1) * h)));
            }
            System.out.printf("langchain4j OnnxEmbeddingModel vs DJL merged model: lowest cosine %.7f"
                    + " (vs the base model: highest %.5f)%n", worst, closestToBase);
            assertThat(worst).isGreaterThanOrEqualTo(0.9999);
            assertThat(closestToBase).isLessThan(0.9999); // the merged adapter changed the embeddings
        }
    }

    @Test
    void refusesWhatItCannotExport() throws IOException {
        try (NDManager scope = manager.newSubManager()) {
            BertModel encoder = MiniLm.load(scope);
            Path existing = Files.writeString(dir.resolve("taken.onnx"), "x");
            assertThatThrownBy(() -> OnnxExport.write(encoder, null, PretrainedEncoder.ALL_MINILM_L6_V2, existing))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already exists");
            assertThat(Files.readString(existing)).isEqualTo("x");

            PretrainedEncoder huggingFace = PretrainedEncoder.huggingFace(dir);
            assertThatThrownBy(() -> OnnxExport.write(encoder, null, huggingFace, dir.resolve("a.onnx")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not an ONNX export");

            BertSequenceClassifier prompted = new BertSequenceClassifier(encoder, 2).initializeHead(scope);
            Peft.apply(prompted, PromptTuningConfig.builder().setNumVirtualTokens(4).build());
            assertThatThrownBy(() -> OnnxExport.write(prompted, null, PretrainedEncoder.ALL_MINILM_L6_V2,
                    dir.resolve("b.onnx")))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no initializer for")
                    .hasMessageContaining("prompt and prefix tuning cannot merge");
            assertThat(dir.resolve("a.onnx")).doesNotExist();
            assertThat(dir.resolve("b.onnx")).doesNotExist();
        }
    }

    /** Runs the file in ONNX Runtime; every output flattened, by name. */
    private static Map<String, float[]> runOnnx(Path file, NDList inputs) throws Exception {
        Map<String, float[]> out = new HashMap<>();
        try (OrtSession session = env.createSession(file.toString(), new OrtSession.SessionOptions());
                OnnxTensor ids = tensor(inputs.get(0));
                OnnxTensor mask = tensor(inputs.get(1));
                OnnxTensor types = tensor(inputs.get(2));
                OrtSession.Result result = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                        "token_type_ids", types))) {
            for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : result) {
                out.put(e.getKey(), ((OnnxTensor) e.getValue()).getFloatBuffer().array());
            }
        }
        return out;
    }

    private static OnnxTensor tensor(NDArray a) throws ai.onnxruntime.OrtException {
        return OnnxTensor.createTensor(env, java.nio.LongBuffer.wrap(a.toLongArray()), a.getShape().getShape());
    }

    private static double maxAbsDifference(float[] a, float[] b) {
        assertThat(b).hasSameSizeAs(a);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * (double) b[i];
            na += a[i] * (double) a[i];
            nb += b[i] * (double) b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
