package org.peft4j.djl.models.roberta;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.ReferenceEncoder;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.TinyCheckpoint;

/**
 * A tiny random RoBERTa checkpoint in Hugging Face's layout against RoBERTa's forward written out
 * in double arithmetic: positions from {@code pad_token_id + 1} over real tokens only, padding
 * included, in F32, F16 and BF16.
 */
class RobertaModelTest {
    static final int VOCAB = 24;
    static final int HIDDEN = 32;
    static final int LAYERS = 2;
    static final int HEADS = 4;
    static final int FFN = 37;
    static final int POSITIONS = 12;
    static final int PAD = 1;
    static final String CONFIG = "{\"architectures\": [\"RobertaForSequenceClassification\"], \"model_type\": \"%s\","
            + " \"vocab_size\": " + VOCAB + ", \"hidden_size\": " + HIDDEN + ", \"num_hidden_layers\": " + LAYERS + ","
            + " \"num_attention_heads\": " + HEADS + ", \"intermediate_size\": " + FFN + ","
            + " \"max_position_embeddings\": " + POSITIONS + ", \"type_vocab_size\": 1, \"pad_token_id\": " + PAD + ","
            + " \"layer_norm_eps\": 1e-05, \"hidden_act\": \"gelu\"}";
    static final ReferenceEncoder.LayerNames NAMES = new ReferenceEncoder.LayerNames("attention.self.query",
            "attention.self.key", "attention.self.value", "attention.output.dense", "attention.output.LayerNorm",
            "intermediate.dense", "output.dense", "output.LayerNorm");
    private static NDManager manager;

    @BeforeAll
    static void start() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    /** A RobertaForSequenceClassification's tensors: the encoder under {@code roberta.}, and a head. */
    static TinyCheckpoint checkpoint() {
        TinyCheckpoint c = new TinyCheckpoint(7)
                .random("roberta.embeddings.word_embeddings.weight", 1, VOCAB, HIDDEN)
                .random("roberta.embeddings.position_embeddings.weight", 1, POSITIONS, HIDDEN)
                .random("roberta.embeddings.token_type_embeddings.weight", 1, 1, HIDDEN)
                .layerNorm("roberta.embeddings.LayerNorm", HIDDEN);
        for (int l = 0; l < LAYERS; l++) {
            String p = "roberta.encoder.layer." + l + ".";
            c.linear(p + NAMES.query(), HIDDEN, HIDDEN).linear(p + NAMES.key(), HIDDEN, HIDDEN)
                    .linear(p + NAMES.value(), HIDDEN, HIDDEN).linear(p + NAMES.attentionOut(), HIDDEN, HIDDEN)
                    .layerNorm(p + NAMES.attentionNorm(), HIDDEN).linear(p + NAMES.up(), HIDDEN, FFN)
                    .linear(p + NAMES.down(), FFN, HIDDEN).layerNorm(p + NAMES.outputNorm(), HIDDEN);
        }
        return c.linear("classifier.dense", HIDDEN, HIDDEN).linear("classifier.out_proj", HIDDEN, 3);
    }

    /** RoBERTa's last hidden states of one row's real tokens {@code ids}, in double arithmetic. */
    static double[][] reference(Map<String, Tensor> w, long[] ids) {
        ReferenceEncoder ref = new ReferenceEncoder(w, HEADS, 1e-5);
        double[][] x = new double[ids.length][];
        for (int t = 0; t < ids.length; t++) {
            double[] word = ref.row("roberta.embeddings.word_embeddings.weight", ids[t], HIDDEN);
            // the t-th real token (from 1) sits at pad_token_id + t
            double[] pos = ref.row("roberta.embeddings.position_embeddings.weight", PAD + 1 + t, HIDDEN);
            double[] type = ref.row("roberta.embeddings.token_type_embeddings.weight", 0, HIDDEN);
            x[t] = new double[HIDDEN];
            for (int i = 0; i < HIDDEN; i++) {
                x[t][i] = word[i] + pos[i] + type[i];
            }
        }
        x = ref.layerNorm(x, "roberta.embeddings.LayerNorm");
        boolean[] mask = new boolean[ids.length];
        java.util.Arrays.fill(mask, true);
        return ref.layers(x, mask, "roberta.encoder.layer.", LAYERS, NAMES);
    }

    private static float[] encode(TextEncoder encoder, long[][] ids, long[][] mask) {
        ParameterStore ps = new ParameterStore(manager, false);
        int t = ids[0].length;
        NDArray idArray = manager.create(flatten(ids), new Shape(ids.length, t));
        NDArray maskArray = manager.create(flatten(mask), new Shape(ids.length, t));
        return encoder.encode(ps, idArray, maskArray, null, false).toFloatArray();
    }

    private static long[] flatten(long[][] rows) {
        long[] out = new long[rows.length * rows[0].length];
        for (int r = 0; r < rows.length; r++) {
            System.arraycopy(rows[r], 0, out, r * rows[0].length, rows[r].length);
        }
        return out;
    }

    @Test
    void aPaddedBatchGivesRobertasStatesForItsRealTokens(@TempDir Path dir) throws IOException {
        TinyCheckpoint c = checkpoint();
        TextEncoder encoder = EncoderFamilies.fromHuggingFace(c.write(dir, CONFIG.formatted("roberta")), manager);
        assertThat(encoder).isInstanceOf(RobertaModel.class);
        assertThat(encoder.modelType()).isEqualTo("roberta");
        long[] full = {0, 5, 9, 13, 7, 22, 2};
        long[] shortRow = {0, 17, 4, 2};
        // the short row padded with id 0 (not pad_token_id 1): positions must follow the mask, not the ids
        long[][] ids = {full, {0, 17, 4, 2, 0, 0, 0}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
        float[] out = encode(encoder, ids, mask);
        double fullDiff = ReferenceEncoder.maxAbsDiff(reference(c.tensors(), full), out, 0);
        double padDiff = ReferenceEncoder.maxAbsDiff(reference(c.tensors(), shortRow), out, 7 * HIDDEN);
        System.out.printf("roberta: max |difference| %.2e (full row), %.2e (padded row)%n", fullDiff, padDiff);
        assertThat(fullDiff).isLessThan(1e-5);
        assertThat(padDiff).isLessThan(1e-5);
        float[] alone = encode(encoder, new long[][] {shortRow}, new long[][] {{1, 1, 1, 1}});
        for (int i = 0; i < alone.length; i++) {
            assertThat((double) out[7 * HIDDEN + i]).isCloseTo(alone[i], org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F16", "BF16"})
    void halfPrecisionCheckpointsLoadAndComputeInF32(DType dtype, @TempDir Path dir) throws IOException {
        TinyCheckpoint c = checkpoint();
        c.write(dir, CONFIG.formatted("xlm-roberta"), t -> t.convertTo(dtype));
        TextEncoder encoder = EncoderFamilies.fromHuggingFace(dir, manager);
        assertThat(encoder.modelType()).isEqualTo("xlm-roberta");
        // the reference runs on the weights as the file holds them, rounded to the half type
        Map<String, Tensor> rounded = new java.util.HashMap<>();
        c.tensors().forEach((k, v) -> rounded.put(k, v.convertTo(dtype)));
        assertThat(rounded.get("roberta.encoder.layer.0.attention.self.query.weight").toFloatArray())
                .as("rounding changed the weights").isNotEqualTo(c.values("roberta.encoder.layer.0.attention.self.query.weight"));
        long[] ids = {0, 3, 8, 2};
        double diff = ReferenceEncoder.maxAbsDiff(reference(rounded, ids), encode(encoder, new long[][] {ids},
                new long[][] {{1, 1, 1, 1}}), 0);
        System.out.printf("roberta %s: max |difference| %.2e%n", dtype, diff);
        assertThat(diff).isLessThan(1e-5);
    }

    @ParameterizedTest
    @ValueSource(strings = {"roberta", "xlm-roberta", "camembert"})
    void theThreeModelTypesAreOneFamily(String type) {
        assertThat(EncoderFamilies.forModelType(type)).isInstanceOf(RobertaFamily.class);
    }

    @Test
    void aSequenceLongerThanThePositionTableAfterTheOffsetIsRefused(@TempDir Path dir) throws IOException {
        TextEncoder encoder = EncoderFamilies.fromHuggingFace(checkpoint().write(dir, CONFIG.formatted("roberta")), manager);
        long[] ids = new long[POSITIONS - PAD]; // 11 tokens need positions 2..12; the table has 0..11
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        assertThatThrownBy(() -> encode(encoder, new long[][] {ids}, new long[][] {mask}))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("truncate the input to at most 10 tokens");
    }

    @Test
    void badCheckpointsAreRefusedWithWhereAndWhat(@TempDir Path dir) throws IOException {
        TinyCheckpoint c = checkpoint();
        Files.createDirectories(dir.resolve("missing"));
        c.write(dir.resolve("missing"), CONFIG.formatted("roberta").replace(" \"num_attention_heads\": " + HEADS + ",", ""));
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir.resolve("missing"), manager))
                .hasMessageContaining("config.json").hasMessageContaining("missing required key \"num_attention_heads\"");
        c.random("roberta.encoder.layer.1.intermediate.dense.weight", 1, HIDDEN, HIDDEN);
        Files.createDirectories(dir.resolve("shape"));
        c.write(dir.resolve("shape"), CONFIG.formatted("roberta"));
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir.resolve("shape"), manager))
                .hasMessageContaining("model.safetensors")
                .hasMessageContaining("tensor \"encoder.layer.1.intermediate.dense.weight\" has shape [32, 32] but the"
                        + " config gives [37, 32]");
        assertThatThrownBy(() -> EncoderFamilies.forModelType("gpt2"))
                .hasMessageContaining("model_type \"gpt2\" is not a supported encoder")
                .hasMessageContaining("bert, camembert, distilbert, roberta, xlm-roberta");
    }
}
