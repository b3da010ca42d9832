package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The DJL encoder against ONNX Runtime running the same all-MiniLM-L6-v2 export. */
class BertOnnxParityTest {
    /** Real sentences of very different lengths, so the batch is heavily padded. */
    static final List<String> SENTENCES = List.of(
            "Hi",
            "The quick brown fox jumps over the lazy dog.",
            "Re: [SAdev] bug 1234 | I think the rule scores need another look before the release.",
            "URGENT!!! You have WON a $1,000,000 prize. Click here now to claim your reward",
            "Meeting moved to 3pm tomorrow.",
            "Parameter-efficient fine-tuning trains a few thousand weights instead of millions, and the base"
                    + " model stays untouched; adapters are kilobytes that can be swapped, merged, and moved between"
                    + " Java and Python.",
            "ok",
            "Can you send me the slides from yesterday's talk on low-rank adaptation?",
            "Free v1agra, cheap meds, no prescription needed!!!");

    private static NDManager manager;
    private static BertModel model;
    private static BertTokenizer tokenizer;
    private static OrtEnvironment env;
    private static OrtSession session;

    @BeforeAll
    static void load() throws Exception {
        manager = NDManager.newBaseManager();
        model = MiniLm.load(manager);
        tokenizer = MiniLm.tokenizer(128);
        env = OrtEnvironment.getEnvironment();
        session = env.createSession(MiniLm.onnxBytes(), new OrtSession.SessionOptions());
    }

    @AfterAll
    static void close() throws Exception {
        session.close();
        tokenizer.close();
        manager.close();
    }

    @Test
    void theArchitectureIsReadOffTheGraph() {
        BertConfig c = model.config();
        assertThat(c.vocabSize()).isEqualTo(30522);
        assertThat(c.hiddenSize()).isEqualTo(384);
        assertThat(c.numHiddenLayers()).isEqualTo(6);
        assertThat(c.numAttentionHeads()).isEqualTo(12);
        assertThat(c.intermediateSize()).isEqualTo(1536);
        assertThat(c.maxPositionEmbeddings()).isEqualTo(512);
        assertThat(c.layerNormEps()).isEqualTo(1e-12f);
    }

    private static float[][][] runOnnx(NDList inputs) throws Exception {
        long[][] ids = toMatrix(inputs.get(0));
        long[][] mask = toMatrix(inputs.get(1));
        long[][] types = toMatrix(inputs.get(2));
        try (OnnxTensor i = OnnxTensor.createTensor(env, ids);
                OnnxTensor m = OnnxTensor.createTensor(env, mask);
                OnnxTensor t = OnnxTensor.createTensor(env, types);
                OrtSession.Result result = session.run(Map.of("input_ids", i, "attention_mask", m, "token_type_ids", t))) {
            return (float[][][]) result.get(0).getValue();
        }
    }

    static long[][] toMatrix(NDArray a) {
        long[] flat = a.toLongArray();
        int rows = (int) a.getShape().get(0);
        int cols = (int) a.getShape().get(1);
        long[][] out = new long[rows][cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(flat, r * cols, out[r], 0, cols);
        }
        return out;
    }

    private static NDArray encode(NDList inputs) {
        return model.encode(new ParameterStore(manager, false), inputs.get(0), inputs.get(1), inputs.get(2), false);
    }

    @Test
    void lastHiddenStateMatchesOnnxRuntime() throws Exception {
        NDList inputs = tokenizer.encode(manager, SENTENCES);
        long batch = inputs.get(0).getShape().get(0);
        long length = inputs.get(0).getShape().get(1);
        assertThat(batch).isEqualTo(SENTENCES.size());
        float[] ours = encode(inputs).toFloatArray();
        float[][][] reference = runOnnx(inputs);
        long[] mask = inputs.get(1).toLongArray();
        double maxAbs = 0;
        int hidden = 384;
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                for (int h = 0; h < hidden; h++) {
                    double d = Math.abs(ours[(int) ((b * length + t) * hidden + h)] - reference[b][t][h]);
                    maxAbs = Math.max(maxAbs, d);
                }
            }
        }
        System.out.printf("last_hidden_state max abs difference to ONNX Runtime: %.3g over %d x %d tokens%n",
                maxAbs, batch, length);
        assertThat(maxAbs).isLessThan(1e-4);

        NDArray ourEmbeddings = normalize(Pooling.MEAN.pool(encode(inputs), inputs.get(1)));
        NDArray referenceEmbeddings = normalize(Pooling.MEAN.pool(manager.create(flatten(reference),
                inputs.get(0).getShape().add(hidden)), inputs.get(1)));
        float[] cosines = ourEmbeddings.mul(referenceEmbeddings).sum(new int[] {1}).toFloatArray();
        for (float cosine : cosines) {
            assertThat(cosine).isGreaterThanOrEqualTo(0.9999f);
        }
        assertThat(mask).contains(0L); // the batch really was padded
    }

    @Test
    void paddingDoesNotChangeASentencesEmbedding() {
        NDList batch = tokenizer.encode(manager, SENTENCES);
        NDArray batched = normalize(Pooling.MEAN.pool(encode(batch), batch.get(1)));
        for (int i = 0; i < SENTENCES.size(); i++) {
            NDList alone = tokenizer.encode(manager, List.of(SENTENCES.get(i)));
            float[] single = normalize(Pooling.MEAN.pool(encode(alone), alone.get(1))).toFloatArray();
            float[] inBatch = batched.get(i).toFloatArray();
            for (int h = 0; h < single.length; h++) {
                assertThat(inBatch[h]).isCloseTo(single[h], org.assertj.core.data.Offset.offset(1e-5f));
            }
        }
    }

    private static NDArray normalize(NDArray x) {
        return x.div(x.norm(new int[] {1}, true));
    }

    static float[] flatten(float[][][] a) {
        int b = a.length;
        int t = a[0].length;
        int h = a[0][0].length;
        float[] out = new float[b * t * h];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < t; j++) {
                System.arraycopy(a[i][j], 0, out, (i * t + j) * h, h);
            }
        }
        return out;
    }
}
