package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The built-in bge-small-en-v1.5 ({@link PretrainedEncoder#BGE_SMALL_EN_V15}) read through
 * {@link BertLoader#fromOnnx}, against ONNX Runtime running the same export. The file is 133 MB,
 * so this is the one test class of the module that loads it, once.
 */
class BgeSmallParityTest {
    @Test
    void theGraphIsReadRightAndLastHiddenStateMatchesOnnxRuntime() throws Exception {
        PretrainedEncoder bge = PretrainedEncoder.BGE_SMALL_EN_V15;
        byte[] onnx;
        try (InputStream in = BgeSmallParityTest.class.getResourceAsStream(bge.location())) {
            assertThat(in).as(bge.location() + " on the classpath").isNotNull();
            onnx = in.readAllBytes();
        }
        try (NDManager manager = NDManager.newBaseManager();
                BertTokenizer tokenizer = bge.tokenizer(128);
                OrtSession session = OrtEnvironment.getEnvironment().createSession(onnx, new OrtSession.SessionOptions())) {
            BertModel model = bge.load(manager);
            // bge-small-en-v1.5's config.json: 12 layers of 12 heads, 384 wide, 1536 in the feed-forward
            BertConfig c = model.config();
            assertThat(c.vocabSize()).isEqualTo(30522);
            assertThat(c.hiddenSize()).isEqualTo(384);
            assertThat(c.numHiddenLayers()).isEqualTo(12);
            assertThat(c.numAttentionHeads()).isEqualTo(12);
            assertThat(c.intermediateSize()).isEqualTo(1536);
            assertThat(c.maxPositionEmbeddings()).isEqualTo(512);
            assertThat(c.typeVocabSize()).isEqualTo(2);
            assertThat(c.layerNormEps()).isEqualTo(1e-12f);
            assertThat(model.hasPretrainedPooler()).isFalse();

            NDList inputs = tokenizer.encode(manager, BertOnnxParityTest.SENTENCES);
            assertThat(inputs.get(1).toLongArray()).contains(0L); // the batch really is padded
            float[] ours = model.encode(new ParameterStore(manager, false), inputs.get(0), inputs.get(1),
                    inputs.get(2), false).toFloatArray();
            float[][][] reference = runOnnx(session, inputs);
            int batch = reference.length;
            int length = reference[0].length;
            int hidden = reference[0][0].length;
            assertThat(ours).hasSize(batch * length * hidden);
            long[] mask = inputs.get(1).toLongArray();
            double maxReal = 0;
            double maxPadded = 0;
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < length; t++) {
                    for (int h = 0; h < hidden; h++) {
                        double d = Math.abs(ours[(b * length + t) * hidden + h] - reference[b][t][h]);
                        if (mask[b * length + t] == 1) {
                            maxReal = Math.max(maxReal, d);
                        } else {
                            maxPadded = Math.max(maxPadded, d);
                        }
                    }
                }
            }
            System.out.printf("bge-small-en-v1.5 last_hidden_state max abs difference to ONNX Runtime over %d x %d tokens:"
                    + " %.3g at real tokens, %.3g at padding%n", batch, length, maxReal, maxPadded);
            assertThat(maxReal).isLessThanOrEqualTo(1e-4);
            // padded positions feed nothing (pooling and attention mask them); they agree less closely
            assertThat(maxPadded).isLessThanOrEqualTo(1e-3);
        }
    }

    /** ONNX Runtime's {@code last_hidden_state}, feeding the inputs the graph declares. */
    private static float[][][] runOnnx(OrtSession session, NDList inputs) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        String[] names = {"input_ids", "attention_mask", "token_type_ids"};
        Map<String, OnnxTensor> feed = new HashMap<>();
        try {
            for (int i = 0; i < names.length; i++) {
                if (session.getInputNames().contains(names[i])) {
                    feed.put(names[i], OnnxTensor.createTensor(env, BertOnnxParityTest.toMatrix(inputs.get(i))));
                }
            }
            assertThat(feed).containsKeys("input_ids", "attention_mask");
            try (OrtSession.Result result = session.run(feed)) {
                assertThat(result.get(0).getInfo().toString()).contains("FLOAT");
                return (float[][][]) result.get(0).getValue();
            }
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

}
