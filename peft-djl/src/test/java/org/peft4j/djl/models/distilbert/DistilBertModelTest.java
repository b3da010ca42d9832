package org.peft4j.djl.models.distilbert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.ReferenceEncoder;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.TinyCheckpoint;

/**
 * A tiny random DistilBERT checkpoint in Hugging Face's layout against DistilBERT's forward and
 * {@code DistilBertForSequenceClassification}'s head written out in double arithmetic, padding
 * included; LoRA on {@code q_lin} and {@code v_lin}; the refusals.
 */
class DistilBertModelTest {
    static final int VOCAB = 24;
    static final int DIM = 32;
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int FFN = 37;
    static final int POSITIONS = 16;
    static final String CONFIG = "{\"architectures\": [\"DistilBertForSequenceClassification\"],"
            + " \"model_type\": \"distilbert\", \"vocab_size\": " + VOCAB + ", \"dim\": " + DIM + ", \"n_layers\": "
            + LAYERS + ", \"n_heads\": " + HEADS + ", \"hidden_dim\": " + FFN + ", \"max_position_embeddings\": "
            + POSITIONS + ", \"activation\": \"gelu\", \"sinusoidal_pos_embds\": %s, \"dropout\": 0.1,"
            + " \"attention_dropout\": 0.1, \"seq_classif_dropout\": 0.2, \"id2label\": {\"0\": \"a\", \"1\": \"b\"}}";
    static final ReferenceEncoder.LayerNames NAMES = new ReferenceEncoder.LayerNames("attention.q_lin",
            "attention.k_lin", "attention.v_lin", "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2",
            "output_layer_norm");
    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    static TinyCheckpoint checkpoint() {
        TinyCheckpoint c = new TinyCheckpoint(11)
                .random("distilbert.embeddings.word_embeddings.weight", 1, VOCAB, DIM)
                .random("distilbert.embeddings.position_embeddings.weight", 1, POSITIONS, DIM)
                .layerNorm("distilbert.embeddings.LayerNorm", DIM);
        for (int l = 0; l < LAYERS; l++) {
            String p = "distilbert.transformer.layer." + l + ".";
            c.linear(p + NAMES.query(), DIM, DIM).linear(p + NAMES.key(), DIM, DIM).linear(p + NAMES.value(), DIM, DIM)
                    .linear(p + NAMES.attentionOut(), DIM, DIM).layerNorm(p + NAMES.attentionNorm(), DIM)
                    .linear(p + NAMES.up(), DIM, FFN).linear(p + NAMES.down(), FFN, DIM)
                    .layerNorm(p + NAMES.outputNorm(), DIM);
        }
        return c.linear("pre_classifier", DIM, DIM).linear("classifier", DIM, 2);
    }

    /** DistilBERT's last hidden states of one row (positions from 0), real tokens where {@code mask}. */
    static double[][] reference(Map<String, Tensor> w, long[] ids, boolean[] mask) {
        ReferenceEncoder ref = new ReferenceEncoder(w, HEADS, 1e-12);
        double[][] x = new double[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            double[] word = ref.row("distilbert.embeddings.word_embeddings.weight", ids[t], DIM);
            double[] pos = ref.row("distilbert.embeddings.position_embeddings.weight", t, DIM);
            x[t] = new double[DIM];
            for (int i = 0; i < DIM; i++) {
                x[t][i] = word[i] + pos[i];
            }
        }
        return ref.layers(ref.layerNorm(x, "distilbert.embeddings.LayerNorm"), mask, "distilbert.transformer.layer.",
                LAYERS, NAMES);
    }

    private static final long[][] IDS = {{2, 5, 9, 13, 7, 22, 3}, {2, 17, 4, 3, 0, 0, 0}};
    private static final long[][] MASK = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};

    private static NDList inputs() {
        long[] ids = new long[14];
        long[] mask = new long[14];
        for (int r = 0; r < 2; r++) {
            System.arraycopy(IDS[r], 0, ids, r * 7, 7);
            System.arraycopy(MASK[r], 0, mask, r * 7, 7);
        }
        return new NDList(manager.create(ids, new Shape(2, 7)), manager.create(mask, new Shape(2, 7)));
    }

    private static boolean[] mask(int row) {
        boolean[] m = new boolean[7];
        for (int t = 0; t < 7; t++) {
            m[t] = MASK[row][t] == 1;
        }
        return m;
    }

    @Test
    void aPaddedBatchGivesDistilBertsStatesAndLogits(@TempDir Path dir) throws IOException {
        TinyCheckpoint c = checkpoint();
        // sinusoidal_pos_embds only sets how a new table starts; a checkpoint's table is read as it is
        TextEncoder encoder = EncoderFamilies.fromHuggingFace(c.write(dir, CONFIG.formatted("true")), manager);
        assertThat(encoder).isInstanceOf(DistilBertModel.class);
        ParameterStore ps = new ParameterStore(manager, false);
        NDList in = inputs();
        float[] out = encoder.encode(ps, in.get(0), in.get(1), null, false).toFloatArray();
        double worst = 0;
        for (int r = 0; r < 2; r++) {
            double[][] ref = reference(c.tensors(), IDS[r], mask(r));
            int real = r == 0 ? 7 : 4;
            worst = Math.max(worst, ReferenceEncoder.maxAbsDiff(Arrays.copyOf(ref, real), out, r * 7 * DIM));
        }
        System.out.printf("distilbert: max |hidden state difference| %.2e%n", worst);
        assertThat(worst).isLessThan(1e-5);

        TextClassifier classifier = EncoderFamilies.sequenceClassifier(encoder, 2, TextClassifier.HUGGING_FACE_HEAD,
                manager);
        assertThat(classifier.headPaths()).containsExactly("pre_classifier", "classifier");
        // the head's weights from the checkpoint, as ClassifierDirectory loads them
        org.peft4j.djl.internal.StateDicts.namedParameters(classifier).forEach((name, p) -> {
            if (!name.startsWith("distilbert.")) {
                p.getArray().set(c.values(name));
            }
        });
        float[] logits = classifier.forward(ps, in, false).singletonOrThrow().toFloatArray();
        ReferenceEncoder ref = new ReferenceEncoder(c.tensors(), HEADS, 1e-12);
        double worstLogit = 0;
        for (int r = 0; r < 2; r++) {
            double[][] first = {reference(c.tensors(), IDS[r], mask(r))[0]};
            double[][] pooled = ReferenceEncoder.map(ref.linear(first, "pre_classifier"), v -> Math.max(0, v));
            double[][] expected = ref.linear(pooled, "classifier");
            worstLogit = Math.max(worstLogit, ReferenceEncoder.maxAbsDiff(expected, logits, r * 2));
        }
        System.out.printf("distilbert: max |logit difference| %.2e%n", worstLogit);
        assertThat(worstLogit).isLessThan(1e-5);
    }

    @Test
    void loraOnQLinAndVLinAndPromptTuningAttachButPrefixTuningIsRefused(@TempDir Path dir) throws IOException {
        TextEncoder encoder = EncoderFamilies.fromHuggingFace(checkpoint().write(dir, CONFIG.formatted("false")), manager);
        TextClassifier classifier = EncoderFamilies.sequenceClassifier(encoder, 2, TextClassifier.HUGGING_FACE_HEAD,
                manager);
        PeftModel peft = Peft.apply(classifier, LoraConfig.builder().setTargetModules("q_lin", "v_lin").build());
        assertThat(peft.adapter(PeftModel.DEFAULT_ADAPTER).stateDict().keySet())
                .contains("base_model.model.distilbert.transformer.layer.1.attention.v_lin.lora_A.weight",
                        "base_model.model.pre_classifier.weight", "base_model.model.classifier.weight")
                .noneMatch(k -> k.contains("k_lin") || k.contains("out_lin"));
        peft.unload();
        assertThatThrownBy(() -> Peft.apply(classifier, PrefixTuningConfig.builder().setNumVirtualTokens(3).build()))
                .hasMessageContaining("prefix-tuning is not supported on model_type distilbert");
    }

    @Test
    void badConfigsAreRefusedWithTheKey(@TempDir Path dir) throws IOException {
        TinyCheckpoint c = checkpoint();
        Files.createDirectories(dir.resolve("a"));
        c.write(dir.resolve("a"), CONFIG.formatted("false").replace("\"hidden_dim\": " + FFN + ",", ""));
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir.resolve("a"), manager))
                .hasMessageContaining("config.json: missing required key \"hidden_dim\"");
        Files.createDirectories(dir.resolve("b"));
        c.write(dir.resolve("b"), CONFIG.formatted("false").replace("\"gelu\"", "\"gelu_new\""));
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir.resolve("b"), manager))
                .hasMessageContaining("activation \"gelu_new\" is not supported; expected one of [gelu, relu]");
        c.tensors().remove("distilbert.transformer.layer.0.attention.q_lin.bias");
        Files.createDirectories(dir.resolve("c"));
        c.write(dir.resolve("c"), CONFIG.formatted("false"));
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir.resolve("c"), manager))
                .hasMessageContaining("missing tensor \"transformer.layer.0.attention.q_lin.bias\"");
    }
}
