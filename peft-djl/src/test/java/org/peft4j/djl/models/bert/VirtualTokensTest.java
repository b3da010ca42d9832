package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.prompt.PromptTuningInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.internal.StateDicts;

/** Prompt- and prefix-tuning in the BERT encoder against independent computations. */
class VirtualTokensTest {
    private static final BertConfig SMALL = new BertConfig(50, 16, 2, 4, 32, 40, 2, 1e-12f, 0.1f, 0.1f);

    private NDManager manager;
    private BertModel model;
    private ParameterStore ps;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(13);
        manager = NDManager.newBaseManager();
        model = new BertModel(SMALL);
        model.initialize(manager, DataType.FLOAT32, new Shape(2, 5));
        ps = new ParameterStore(manager, false);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private NDArray encode(long[][] ids, long[][] mask) {
        int b = ids.length;
        int t = ids[0].length;
        long[] flatIds = new long[b * t];
        long[] flatMask = new long[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(ids[i], 0, flatIds, i * t, t);
            System.arraycopy(mask[i], 0, flatMask, i * t, t);
        }
        return model.encode(ps, manager.create(flatIds, new Shape(b, t)), manager.create(flatMask, new Shape(b, t)), null, false);
    }

    @Test
    void aTextPromptEqualsPuttingThoseTokensInFrontOfTheInput() {
        // TEXT init copies the word embeddings of the init text's ids: the prompted model must then
        // compute exactly what the plain model computes on [init ids ; input], minus the first n positions
        long[] initIds = {7, 8, 9};
        PeftModel peft = Peft.apply(model, PromptTuningConfig.builder().setNumVirtualTokens(5).optPromptTuningInitText("x")
                .optBaseModelNameOrPath("org/tiny-bert").build(), "default", text -> initIds);
        // PEFT refuses a TEXT-init config without tokenizer_name_or_path: the base model's name stands in
        assertThat(((PromptTuningConfig) peft.adapter("default").config()).tokenizerNameOrPath()).isEqualTo("org/tiny-bert");
        long[] input = {1, 20, 21, 22, 2};
        float[] prompted = encode(new long[][] {input}, new long[][] {{1, 1, 1, 1, 1}}).toFloatArray();

        long[] longer = {7, 8, 9, 7, 8, 1, 20, 21, 22, 2}; // init ids repeated to n = 5, then the input
        try (PeftModel.Scope off = peft.disableAdapters()) {
            NDArray plain = encode(new long[][] {longer}, new long[][] {{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}});
            float[] expected = plain.get(new NDIndex(":, 5:, :")).toFloatArray();
            assertThat(maxAbsDiff(prompted, expected)).isLessThan(1e-5);
        }
        assertThat(peft.adapter("default").stateDict().get("prompt_embeddings").shape()).containsExactly(5, 16);
        assertThat(peft.trainableParameters().trainable()).isEqualTo(5 * 16);
    }

    @Test
    void paddingDoesNotChangeAPromptedOrPrefixedSequence() {
        for (Object config : new Object[] {
            PromptTuningConfig.builder().setNumVirtualTokens(3).build(),
            PrefixTuningConfig.builder().setNumVirtualTokens(3).optPrefixProjection(true).optEncoderHiddenSize(8).build()}) {
            PeftModel peft = Peft.apply(model, (org.peft4j.api.PeftConfig) config);
            float[] alone = encode(new long[][] {{1, 30, 31, 2}}, new long[][] {{1, 1, 1, 1}}).toFloatArray();
            NDArray padded = encode(new long[][] {{1, 30, 31, 2, 0, 0}, {1, 5, 6, 7, 8, 2}},
                    new long[][] {{1, 1, 1, 1, 0, 0}, {1, 1, 1, 1, 1, 1}});
            float[] first = padded.get(new NDIndex("0, :4, :")).toFloatArray();
            assertThat(maxAbsDiff(alone, first)).as(config.toString()).isLessThan(1e-5);
            peft.unload();
            assertThat(model.virtualTokens()).isNull();
        }
    }

    @Test
    void prefixAttentionEqualsTheFormulaWrittenOut() {
        PeftModel peft = Peft.apply(model, PrefixTuningConfig.builder().setNumVirtualTokens(3).build());
        float[] prefixes = peft.adapter("default").stateDict().get("prompt_embeddings").toFloatArray();
        assertThat(peft.adapter("default").stateDict().get("prompt_embeddings").shape()).containsExactly(3, 2 * 2 * 16);
        long[] ids = {1, 11, 12, 13, 2};
        float[] actual = encode(new long[][] {ids}, new long[][] {{1, 1, 1, 1, 1}}).toFloatArray();

        Map<String, Parameter> p = StateDicts.namedParameters(model);
        NDArray prefixTable = manager.create(prefixes, new Shape(3, 64));
        // embeddings, computed from the tables directly; the real tokens sit at positions n to n + T - 1, as
        // transformers numbers them after n cached positions (modeling_bert.py, BertEmbeddings.forward:
        // position_ids[:, past_key_values_length : seq_length + past_key_values_length])
        NDArray h = rows(p, "embeddings.word_embeddings.weight", ids)
                .add(rows(p, "embeddings.position_embeddings.weight", new long[] {3, 4, 5, 6, 7}))
                .add(rows(p, "embeddings.token_type_embeddings.weight", new long[] {0, 0, 0, 0, 0}));
        h = layerNorm(h, p, "embeddings.LayerNorm");
        for (int l = 0; l < 2; l++) {
            String at = "encoder.layer." + l + ".";
            NDArray q = dense(h, p, at + "attention.self.query");
            NDArray k = prefixTable.get(new NDIndex(":, {}:{}", 2 * l * 16, (2 * l + 1) * 16))
                    .concat(dense(h, p, at + "attention.self.key"), 0);
            NDArray v = prefixTable.get(new NDIndex(":, {}:{}", (2 * l + 1) * 16, (2 * l + 2) * 16))
                    .concat(dense(h, p, at + "attention.self.value"), 0);
            NDArray context = null;
            for (int head = 0; head < 4; head++) {
                NDIndex cols = new NDIndex(":, {}:{}", head * 4, head * 4 + 4);
                NDArray scores = q.get(cols).matMul(k.get(cols).transpose()).div(2f); // sqrt(head size 4)
                NDArray out = scores.softmax(1).matMul(v.get(cols));
                context = context == null ? out : context.concat(out, 1);
            }
            NDArray attended = layerNorm(dense(context, p, at + "attention.output.dense").add(h), p,
                    at + "attention.output.LayerNorm");
            NDArray wide = gelu(dense(attended, p, at + "intermediate.dense"));
            h = layerNorm(dense(wide, p, at + "output.dense").add(attended), p, at + "output.LayerNorm");
        }
        assertThat(maxAbsDiff(actual, h.toFloatArray())).isLessThan(1e-5);
    }

    @Test
    void promptInitsFollowHuggingFace() {
        float[] table = model.wordEmbeddings().getArray().toFloatArray();
        PeftModel vocab = Peft.apply(model, PromptTuningConfig.builder().setNumVirtualTokens(4)
                .optPromptTuningInit(PromptTuningInit.SAMPLE_VOCAB).build());
        float[] sampled = vocab.adapter("default").stateDict().get("prompt_embeddings").toFloatArray();
        for (int i = 0; i < 4; i++) {
            boolean isARow = false;
            for (int row = 0; row < 50 && !isARow; row++) {
                isARow = java.util.Arrays.equals(java.util.Arrays.copyOfRange(sampled, i * 16, i * 16 + 16),
                        java.util.Arrays.copyOfRange(table, row * 16, row * 16 + 16));
            }
            assertThat(isARow).as("virtual token %d is a vocabulary row", i).isTrue();
        }
        vocab.unload();
        assertThatThrownBy(() -> Peft.apply(model, PromptTuningConfig.builder().setNumVirtualTokens(4).optPromptTuningInitText("hi").build()))
                .hasMessageContaining("prompt_tuning_init TEXT needs the model's tokenizer");
        assertThatThrownBy(() -> Peft.apply(model, PromptTuningConfig.builder().setNumVirtualTokens(4).optPromptTuningInitText("hi").build(),
                        "default", text -> new long[] {7}))
                .hasMessageContaining("Python's PEFT refuses a TEXT-init adapter that names no tokenizer");
        assertThatThrownBy(() -> Peft.apply(new ai.djl.nn.SequentialBlock(),
                        PrefixTuningConfig.builder().setNumVirtualTokens(2).build()))
                .hasMessageContaining("PREFIX_TUNING needs exactly one transformer block that implements VirtualTokenHost");
        PeftModel prompt = Peft.apply(model, PromptTuningConfig.builder().setNumVirtualTokens(36).build());
        assertThatThrownBy(() -> encode(new long[][] {{1, 2, 3, 4, 5}}, new long[][] {{1, 1, 1, 1, 1}}))
                .hasMessageContaining("a sequence of 41 tokens (virtual tokens included) is longer than the position table (40");
        assertThatThrownBy(prompt::merge).hasMessageContaining("PROMPT_TUNING adapters cannot be merged");
    }

    private NDArray rows(Map<String, Parameter> p, String name, long[] ids) {
        return p.get(name).getArray().get(manager.create(ids));
    }

    private static NDArray dense(NDArray x, Map<String, Parameter> p, String module) {
        return x.matMul(p.get(module + ".weight").getArray().transpose()).add(p.get(module + ".bias").getArray());
    }

    /** LayerNorm written out: (x - mean) / sqrt(var + eps) * weight + bias over the last axis. */
    private static NDArray layerNorm(NDArray x, Map<String, Parameter> p, String module) {
        NDArray mean = x.mean(new int[] {-1}, true);
        NDArray centered = x.sub(mean);
        NDArray var = centered.square().mean(new int[] {-1}, true);
        return centered.div(var.add(1e-12f).sqrt()).mul(p.get(module + ".weight").getArray())
                .add(p.get(module + ".bias").getArray());
    }

    /** Exact GELU written out: x · Φ(x) = x / 2 · (1 + erf(x / sqrt 2)). */
    private static NDArray gelu(NDArray x) {
        float[] v = x.toFloatArray();
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] * 0.5 * (1 + erf(v[i] / Math.sqrt(2))));
        }
        return x.getManager().create(out, x.getShape());
    }

    /** erf by its Taylor series (converges for the small arguments here to far below float precision). */
    private static double erf(double z) {
        if (Math.abs(z) > 4) {
            return Math.signum(z);
        }
        double sum = 0;
        double term = z;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -z * z / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }
}
