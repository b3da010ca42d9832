package org.peft4j.djl.models.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderFamilies;
import org.peft4j.djl.models.KeyValueCache;

/**
 * The LLaMA family against its architecture written out here in double arithmetic (RMSNorm,
 * rotary positions in the rotate_half layout, grouped-query attention under a causal and padding
 * mask, the SiLU-gated MLP, tied and untied output layers, Qwen2's q/k/v biases), the key/value
 * cache against recomputing everything, and checkpoints written in Hugging Face's layout (F32 and
 * BF16) and refused with a reason.
 */
class LlamaForwardTest {
    private static final double TOLERANCE = 1e-5;
    private static final ObjectMapper JSON = new ObjectMapper();
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    /** A tiny config: 2 layers, hidden 64, 4 query heads sharing 2 key/value heads. */
    private static ObjectNode config(String type, boolean tied) {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", type);
        c.put("vocab_size", 23);
        c.put("hidden_size", 64);
        c.put("intermediate_size", 96);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", 4);
        c.put("num_key_value_heads", 2);
        c.put("rms_norm_eps", 1e-6);
        c.put("max_position_embeddings", 64);
        c.put("tie_word_embeddings", tied);
        c.putObject("rope_parameters").put("rope_theta", 500.0).put("rope_type", "default");
        return c;
    }

    private LlamaForCausalLM randomModel(ObjectNode json, long seed) {
        LlamaForCausalLM model = new LlamaForCausalLM(LlamaConfig.fromJson(json, "test"));
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        Random random = new Random(seed);
        for (Parameter p : StateDicts.namedParameters(model).values()) {
            NDArray a = p.getArray();
            float[] values = new float[(int) a.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * 0.2 + (p.getName().equals("weight") && a.getShape().dimension() == 1 ? 1 : 0));
            }
            a.set(values);
        }
        return model;
    }

    @Test
    void llamaWithBiasesAndAnUntiedHeadComputesTheArchitecture() {
        ObjectNode json = config("llama", false).put("attention_bias", true).put("mlp_bias", true);
        checkAgainstReference(randomModel(json, 1));
    }

    @Test
    void qwen2WithTiedEmbeddingsComputesTheArchitecture() {
        LlamaForCausalLM model = randomModel(config("qwen2", true), 2);
        assertThat(StateDicts.namedParameters(model)).containsKey("model.layers.1.self_attn.q_proj.bias")
                .doesNotContainKey("model.layers.1.self_attn.o_proj.bias").doesNotContainKey("lm_head.weight");
        checkAgainstReference(model);
    }

    /** Two rows, the second right-padded by 3: every real position's logits equal the reference's. */
    private void checkAgainstReference(LlamaForCausalLM model) {
        long[][] ids = {{1, 5, 9, 3, 22, 7, 4}, {2, 8, 8, 11, 0, 0, 0}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
        NDArray logits = model.logits(new ParameterStore(manager, false), manager.create(ids), manager.create(mask),
                null, null, false);
        Map<String, float[]> weights = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((name, p) -> weights.put(name, p.getArray().toFloatArray()));
        double max = 0;
        for (int b = 0; b < 2; b++) {
            int real = (int) java.util.Arrays.stream(mask[b]).sum();
            double[][] expected = new Reference(model.config(), weights).logits(java.util.Arrays.copyOf(ids[b], real));
            float[] actual = logits.get(b).toFloatArray();
            for (int t = 0; t < real; t++) {
                for (int v = 0; v < expected[t].length; v++) {
                    max = Math.max(max, Math.abs(actual[t * expected[t].length + v] - expected[t][v]));
                }
            }
        }
        System.out.printf("%s: max |logit difference| from the double-precision reference %.2e%n",
                model.modelType(), max);
        assertThat(max).isLessThan(TOLERANCE);
    }

    @Test
    void decodingWithTheCacheGivesTheLogitsOfTheWholeSequence() {
        LlamaForCausalLM model = randomModel(config("llama", false), 3);
        long[] ids = {1, 5, 9, 3, 22, 7, 4, 12};
        ParameterStore ps = new ParameterStore(manager, false);
        float[] whole = model.logits(ps, manager.create(ids).reshape(1, ids.length), null, null, null, false).toFloatArray();
        KeyValueCache cache = new KeyValueCache(model.numLayers());
        // a prompt of 5 tokens, then one token at a time
        NDArray first = model.logits(ps, manager.create(java.util.Arrays.copyOf(ids, 5)).reshape(1, 5), null, null, cache,
                false);
        double max = maxDiff(first.toFloatArray(), whole, 0);
        for (int t = 5; t < ids.length; t++) {
            NDArray step = model.logits(ps, manager.create(new long[] {ids[t]}).reshape(1, 1), null, null, cache, false);
            max = Math.max(max, maxDiff(step.toFloatArray(), whole, t * 23));
        }
        assertThat(cache.length()).isEqualTo(ids.length);
        assertThat(max).isLessThan(TOLERANCE);
    }

    private static double maxDiff(float[] part, float[] whole, int offset) {
        double max = 0;
        for (int i = 0; i < part.length; i++) {
            max = Math.max(max, Math.abs(part[i] - whole[offset + i]));
        }
        return max;
    }

    @Test
    void aCheckpointInHuggingFacesLayoutLoadsInF32AndBf16(@TempDir Path dir) throws Exception {
        ObjectNode json = config("qwen2", true);
        LlamaForCausalLM model = randomModel(json, 4);
        long[][] ids = {{1, 5, 9, 3}};
        float[] expected = model.logits(new ParameterStore(manager, false), manager.create(ids), null, null, null, false)
                .toFloatArray();
        Map<String, Tensor> f32 = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((n, p) -> f32.put(n, TensorConversions.toTensor(p.getArray())));
        write(dir.resolve("f32"), json, f32);
        CausalLanguageModel loaded = DecoderFamilies.fromHuggingFace(dir.resolve("f32"), manager);
        float[] actual = loaded.logits(new ParameterStore(manager, false), manager.create(ids), null, null, null, false)
                .toFloatArray();
        assertThat(maxDiff(actual, expected, 0)).isZero();

        Map<String, Tensor> bf16 = new LinkedHashMap<>();
        f32.forEach((n, t) -> bf16.put(n, t.convertTo(DType.BF16)));
        write(dir.resolve("bf16"), json, bf16);
        CausalLanguageModel rounded = DecoderFamilies.fromHuggingFace(dir.resolve("bf16"), manager);
        Map<String, Parameter> parameters = StateDicts.namedParameters(rounded);
        bf16.forEach((n, t) -> assertThat(parameters.get(n).getArray().toFloatArray()).containsExactly(t.toFloatArray()));
    }

    private static void write(Path dir, ObjectNode config, Map<String, Tensor> tensors) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config));
        new SafeTensors(tensors, SafeTensors.PT_METADATA).write(dir.resolve("model.safetensors"));
    }

    @Test
    void whatIsNotImplementedIsRefusedWithTheReason(@TempDir Path dir) throws Exception {
        ObjectNode scaled = config("llama", false);
        scaled.remove("rope_parameters");
        scaled.putObject("rope_scaling").put("rope_type", "linear").put("factor", 2.0);
        assertThatThrownBy(() -> LlamaConfig.fromJson(scaled, "config.json"))
                .hasMessage("config.json: rotary scaling \"linear\" is not implemented; only the default rotary"
                        + " embedding (no rope_scaling) is");
        assertThatThrownBy(() -> LlamaConfig.fromJson(config("llama", false).put("hidden_act", "gelu"), "config.json"))
                .hasMessageContaining("hidden_act \"gelu\" is not supported");
        assertThatThrownBy(() -> LlamaConfig.fromJson(config("qwen2", false).put("use_sliding_window", true), "c"))
                .hasMessageContaining("use_sliding_window true is not implemented");
        assertThatThrownBy(() -> LlamaConfig.fromJson(config("llama", false).put("num_key_value_heads", 3), "c"))
                .hasMessageContaining("num_attention_heads 4 is not a multiple of num_key_value_heads 3");
        assertThatThrownBy(() -> LlamaConfig.fromJson(config("llama", false).without("hidden_size"), "c"))
                .hasMessage("c: missing required key \"hidden_size\"");

        LlamaForCausalLM windowed = randomModel(config("mistral", false).put("sliding_window", 4), 5);
        assertThatThrownBy(() -> windowed.logits(new ParameterStore(manager, false),
                manager.create(new long[][] {{1, 2, 3, 4, 5}}), null, null, null, false))
                .hasMessageContaining("the sequence of 5 tokens is longer than the sliding_window of 4");

        write(dir.resolve("gptj"), config("llama", false).put("model_type", "gptj"), Map.of());
        assertThatThrownBy(() -> DecoderFamilies.fromHuggingFace(dir.resolve("gptj"), manager))
                .hasMessageStartingWith("model_type \"gptj\" is not a supported causal language model; supported: ")
                .hasMessageContaining("llama, mistral, qwen2");

        LlamaForCausalLM model = randomModel(config("llama", false), 6);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((n, p) -> tensors.put(n, TensorConversions.toTensor(p.getArray())));
        tensors.remove("lm_head.weight");
        tensors.put("model.norm.weight", Tensor.ofFloats(new long[] {63}, new float[63]));
        write(dir.resolve("broken"), config("llama", false), tensors);
        assertThatThrownBy(() -> DecoderFamilies.fromHuggingFace(dir.resolve("broken"), manager))
                .hasMessageContaining("model.safetensors: the checkpoint does not match its config")
                .hasMessageContaining("tensor \"model.norm.weight\" has shape [63] but the config gives [64]")
                .hasMessageContaining("missing tensor \"lm_head.weight\"");
    }

    /** The architecture in double arithmetic, one sequence at a time, positions 0, 1, 2, ... */
    private static final class Reference {
        private final LlamaConfig c;
        private final Map<String, float[]> w;

        Reference(LlamaConfig c, Map<String, float[]> w) {
            this.c = c;
            this.w = w;
        }

        double[][] logits(long[] ids) {
            int n = ids.length;
            int hidden = c.hiddenSize();
            double[][] h = new double[n][];
            float[] table = w.get("model.embed_tokens.weight");
            for (int t = 0; t < n; t++) {
                h[t] = new double[hidden];
                for (int i = 0; i < hidden; i++) {
                    h[t][i] = table[(int) ids[t] * hidden + i];
                }
            }
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                String p = "model.layers." + l + ".";
                double[][] x = new double[n][];
                for (int t = 0; t < n; t++) {
                    x[t] = rms(h[t], w.get(p + "input_layernorm.weight"));
                }
                double[][] attended = attention(x, p + "self_attn.");
                for (int t = 0; t < n; t++) {
                    double[] a = linear(attended[t], p + "self_attn.o_proj");
                    for (int i = 0; i < hidden; i++) {
                        h[t][i] += a[i];
                    }
                    double[] y = rms(h[t], w.get(p + "post_attention_layernorm.weight"));
                    double[] gate = linear(y, p + "mlp.gate_proj");
                    double[] up = linear(y, p + "mlp.up_proj");
                    for (int i = 0; i < gate.length; i++) {
                        gate[i] = gate[i] / (1 + Math.exp(-gate[i])) * up[i];
                    }
                    double[] down = linear(gate, p + "mlp.down_proj");
                    for (int i = 0; i < hidden; i++) {
                        h[t][i] += down[i];
                    }
                }
            }
            double[][] out = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] y = rms(h[t], w.get("model.norm.weight"));
                out[t] = c.tieWordEmbeddings() ? matVec(table, c.vocabSize(), y) : linear(y, "lm_head");
            }
            return out;
        }

        private double[][] attention(double[][] x, String p) {
            int n = x.length;
            int d = c.headDim();
            double[][] q = new double[n][];
            double[][] k = new double[n][];
            double[][] v = new double[n][];
            for (int t = 0; t < n; t++) {
                q[t] = rotate(linear(x[t], p + "q_proj"), t, c.numAttentionHeads());
                k[t] = rotate(linear(x[t], p + "k_proj"), t, c.numKeyValueHeads());
                v[t] = linear(x[t], p + "v_proj");
            }
            double[][] out = new double[n][c.numAttentionHeads() * d];
            for (int head = 0; head < c.numAttentionHeads(); head++) {
                int kv = head / (c.numAttentionHeads() / c.numKeyValueHeads());
                for (int t = 0; t < n; t++) {
                    double[] scores = new double[t + 1];
                    double top = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        double dot = 0;
                        for (int i = 0; i < d; i++) {
                            dot += q[t][head * d + i] * k[j][kv * d + i];
                        }
                        scores[j] = dot / Math.sqrt(d);
                        top = Math.max(top, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) {
                        scores[j] = Math.exp(scores[j] - top);
                        sum += scores[j];
                    }
                    for (int j = 0; j <= t; j++) {
                        for (int i = 0; i < d; i++) {
                            out[t][head * d + i] += scores[j] / sum * v[j][kv * d + i];
                        }
                    }
                }
            }
            return out;
        }

        /** Rotates each head's halves by position·theta^(-2i/d): (a, b) to (a cos - b sin, b cos + a sin). */
        private double[] rotate(double[] x, int position, int heads) {
            int d = c.headDim();
            double[] out = x.clone();
            for (int head = 0; head < heads; head++) {
                for (int i = 0; i < d / 2; i++) {
                    double angle = position / Math.pow(c.ropeTheta(), 2.0 * i / d);
                    double a = x[head * d + i];
                    double b = x[head * d + i + d / 2];
                    out[head * d + i] = a * Math.cos(angle) - b * Math.sin(angle);
                    out[head * d + i + d / 2] = b * Math.cos(angle) + a * Math.sin(angle);
                }
            }
            return out;
        }

        private double[] rms(double[] x, float[] scale) {
            double squares = 0;
            for (double value : x) {
                squares += value * value;
            }
            double norm = Math.sqrt(squares / x.length + c.rmsNormEps());
            double[] out = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                out[i] = x[i] / norm * scale[i];
            }
            return out;
        }

        private double[] linear(double[] x, String name) {
            float[] weight = w.get(name + ".weight");
            double[] out = matVec(weight, weight.length / x.length, x);
            float[] bias = w.get(name + ".bias");
            for (int o = 0; bias != null && o < out.length; o++) {
                out[o] += bias[o];
            }
            return out;
        }

        private static double[] matVec(float[] weight, int rows, double[] x) {
            double[] out = new double[rows];
            for (int o = 0; o < rows; o++) {
                for (int i = 0; i < x.length; i++) {
                    out[o] += weight[o * x.length + i] * x[i];
                }
            }
            return out;
        }
    }
}
