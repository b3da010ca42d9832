package org.peft4j.djl.models.gpt2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.Generator;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderFamilies;
import org.peft4j.djl.models.KeyValueCache;

/**
 * The GPT-2 family against its architecture written out here in double arithmetic (learned
 * positions, pre-LayerNorm blocks, the fused q/k/v projection split in that order, causal and
 * padding masks, gelu_new, tied and untied output layers, the attention scalings), the key/value
 * cache against recomputing everything, checkpoints in both of transformers' key layouts with
 * Conv1D weights stored [in, out], refusals with a reason, and a LoRA adapter on {@code c_attn}
 * (PEFT's default target) against W + s·B·A written out, merged and unmerged.
 */
class Gpt2ForwardTest {
    private static final double TOLERANCE = 1e-5;
    private static final int VOCAB = 23;
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

    /** A tiny config: 2 layers, n_embd 64, 4 heads, 32 positions. */
    private static ObjectNode config() {
        ObjectNode c = JSON.createObjectNode();
        c.put("model_type", "gpt2");
        c.put("vocab_size", VOCAB);
        c.put("n_embd", 64);
        c.put("n_layer", 2);
        c.put("n_head", 4);
        c.putNull("n_inner");
        c.put("n_positions", 32);
        c.put("layer_norm_epsilon", 1e-5);
        c.put("activation_function", "gelu_new");
        return c;
    }

    private Gpt2LMHeadModel randomModel(ObjectNode json, long seed) {
        Gpt2LMHeadModel model = new Gpt2LMHeadModel(Gpt2Config.fromJson(json, "test"));
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        Random random = new Random(seed);
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(model).entrySet()) {
            NDArray a = e.getValue().getArray();
            boolean scale = e.getKey().contains(".ln_") && e.getKey().endsWith(".weight");
            float[] values = new float[(int) a.size()];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) (random.nextGaussian() * 0.2 + (scale ? 1 : 0));
            }
            a.set(values);
        }
        return model;
    }

    @Test
    void aTiedModelWithLeftPaddingAndGeneratePositionsComputesTheArchitecture() {
        Gpt2LMHeadModel model = randomModel(config(), 1);
        assertThat(StateDicts.namedParameters(model)).containsKeys("transformer.wte.weight", "transformer.wpe.weight",
                "transformer.h.1.attn.c_attn.bias", "transformer.h.1.mlp.c_fc.weight", "transformer.ln_f.bias")
                .doesNotContainKey("lm_head.weight");
        assertThat(StateDicts.namedParameters(model).get("transformer.h.0.mlp.c_fc.weight").getArray().getShape())
                .isEqualTo(new Shape(256, 64));
        // the second row is left-padded by 3; its positions are generate()'s cumsum(mask) - 1, pads at 1
        long[][] ids = {{1, 5, 9, 3, 22, 7, 4}, {0, 0, 0, 2, 8, 8, 11}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {0, 0, 0, 1, 1, 1, 1}};
        long[][] positions = {{0, 1, 2, 3, 4, 5, 6}, {1, 1, 1, 0, 1, 2, 3}};
        checkAgainstReference(model, ids, mask, positions, Map.of());
    }

    @Test
    void anUntiedModelWithRightPaddingAndOtherAttentionScalingsComputesTheArchitecture() {
        ObjectNode json = config().put("n_inner", 80).put("tie_word_embeddings", false)
                .put("scale_attn_weights", false).put("scale_attn_by_inverse_layer_idx", true)
                .put("reorder_and_upcast_attn", true);
        Gpt2LMHeadModel model = randomModel(json, 2);
        assertThat(StateDicts.namedParameters(model)).containsKey("lm_head.weight");
        long[][] ids = {{1, 5, 9, 3, 22, 7, 4}, {2, 8, 8, 11, 0, 0, 0}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
        checkAgainstReference(model, ids, mask, null, Map.of());
    }

    /** Every real position's logits equal the reference's, each row computed alone from positions 0, 1, ... */
    private void checkAgainstReference(CausalLanguageModel model, long[][] ids, long[][] mask, long[][] positions,
            Map<String, double[]> deltas) {
        NDArray logits = model.logits(new ParameterStore(manager, false), manager.create(ids), manager.create(mask),
                positions == null ? null : manager.create(positions), null, false);
        Reference reference = new Reference(((Gpt2LMHeadModel) model).config(), weights(model), deltas);
        double max = 0;
        for (int b = 0; b < ids.length; b++) {
            long[] real = new long[(int) Arrays.stream(mask[b]).sum()];
            int first = positions == null ? 0 : ids[b].length - real.length;
            System.arraycopy(ids[b], first, real, 0, real.length);
            double[][] expected = reference.logits(real);
            float[] actual = logits.get(b).toFloatArray();
            for (int t = 0; t < real.length; t++) {
                for (int v = 0; v < VOCAB; v++) {
                    max = Math.max(max, Math.abs(actual[(first + t) * VOCAB + v] - expected[t][v]));
                }
            }
        }
        System.out.printf("gpt2: max |logit difference| from the double-precision reference %.2e%n", max);
        assertThat(max).isLessThan(TOLERANCE);
    }

    /** The base weights by state-dict name (a LoRA-wrapped layer's base weight keeps its name). */
    private static Map<String, float[]> weights(CausalLanguageModel model) {
        Map<String, float[]> weights = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((name, p) -> weights.put(name, p.getArray().toFloatArray()));
        return weights;
    }

    @Test
    void decodingWithTheCacheGivesTheLogitsOfTheWholeSequence() {
        Gpt2LMHeadModel model = randomModel(config(), 3);
        long[] ids = {1, 5, 9, 3, 22, 7, 4, 12};
        ParameterStore ps = new ParameterStore(manager, false);
        float[] whole = model.logits(ps, manager.create(ids).reshape(1, ids.length), null, null, null, false).toFloatArray();
        KeyValueCache cache = new KeyValueCache(model.numLayers());
        // a prompt of 5 tokens, then one token at a time, positions continuing from the cache's length
        NDArray first = model.logits(ps, manager.create(Arrays.copyOf(ids, 5)).reshape(1, 5), null, null, cache, false);
        double max = maxDiff(first.toFloatArray(), whole, 0);
        for (int t = 5; t < ids.length; t++) {
            NDArray step = model.logits(ps, manager.create(new long[] {ids[t]}).reshape(1, 1), null, null, cache, false);
            max = Math.max(max, maxDiff(step.toFloatArray(), whole, t * VOCAB));
        }
        assertThat(cache.length()).isEqualTo(ids.length);
        assertThat(max).isLessThan(TOLERANCE);
    }

    /** Prompt- and prefix-tuning: decoding with the cache the virtual tokens started gives the logits and tokens of no cache. */
    @Test
    void virtualTokensDecodeWithTheCacheAsWithout() {
        for (PeftConfig config : List.<PeftConfig>of(PromptTuningConfig.builder().setNumVirtualTokens(4).build(),
                PrefixTuningConfig.builder().setNumVirtualTokens(3).build())) {
            Gpt2LMHeadModel model = randomModel(config(), 4);
            long[] ids = {1, 5, 9, 3, 22, 7, 4, 12};
            ParameterStore ps = new ParameterStore(manager, false);
            float[] base = model.logits(ps, manager.create(ids).reshape(1, ids.length), null, null, null, false)
                    .toFloatArray();
            Peft.apply(model, config);
            int n = model.virtualTokens().numVirtualTokens();
            float[] whole = model.logits(ps, manager.create(ids).reshape(1, ids.length), null, null, null, false)
                    .toFloatArray();
            assertThat(whole).hasSize(ids.length * VOCAB);
            KeyValueCache cache = new KeyValueCache(model.numLayers());
            NDArray first = model.logits(ps, manager.create(Arrays.copyOf(ids, 5)).reshape(1, 5), null, null, cache, false);
            double max = maxDiff(first.toFloatArray(), whole, 0);
            for (int t = 5; t < ids.length; t++) {
                NDArray step = model.logits(ps, manager.create(new long[] {ids[t]}).reshape(1, 1), null, null, cache, false);
                max = Math.max(max, maxDiff(step.toFloatArray(), whole, t * VOCAB));
            }
            assertThat(cache.length()).as("%s", config.peftType()).isEqualTo(n + ids.length);
            assertThat(max).as("%s", config.peftType()).isLessThan(TOLERANCE);
            assertThat(maxDiff(base, whole, 0)).as("the virtual tokens change the logits").isGreaterThan(1e-3);
            // the Generator passes position ids and, for a batch, a mask: the same tokens with and without the cache
            GenerationConfig.Builder settings = GenerationConfig.builder().optMaxNewTokens(6).optPadTokenId(0);
            List<long[]> prompts = List.of(new long[] {1, 5, 9, 3}, new long[] {7, 4});
            assertThat(new Generator(model, settings.build()).generate(manager, prompts))
                    .isDeepEqualTo(new Generator(model, settings.optUseCache(false).build()).generate(manager, prompts));
        }
    }

    private static double maxDiff(float[] part, float[] whole, int offset) {
        double max = 0;
        for (int i = 0; i < part.length; i++) {
            max = Math.max(max, Math.abs(part[i] - whole[offset + i]));
        }
        return max;
    }

    /** The model's weights as transformers saves them: Conv1D weights [in, out], keys with or without {@code transformer.}. */
    private static Map<String, Tensor> huggingFaceTensors(CausalLanguageModel model, boolean bare) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((name, p) -> {
            Tensor t = TensorConversions.toTensor(p.getArray());
            boolean conv1d = name.matches("transformer\\.h\\.\\d+\\.(attn\\.c_attn|attn\\.c_proj|mlp\\.c_fc|mlp\\.c_proj)\\.weight");
            if (conv1d) {
                long rows = t.shape()[0];
                long cols = t.shape()[1];
                float[] v = t.toFloatArray();
                float[] transposed = new float[v.length];
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) {
                        transposed[(int) (c * rows + r)] = v[(int) (r * cols + c)];
                    }
                }
                t = Tensor.ofFloats(new long[] {cols, rows}, transposed);
            }
            out.put(bare ? name.substring("transformer.".length()) : name, t);
        });
        return out;
    }

    @Test
    void checkpointsInBothKeyLayoutsLoadWithTheirConv1dWeightsTransposed(@TempDir Path dir) throws Exception {
        ObjectNode json = config();
        Gpt2LMHeadModel model = randomModel(json, 4);
        long[][] ids = {{1, 5, 9, 3}};
        float[] expected = model.logits(new ParameterStore(manager, false), manager.create(ids), null, null, null, false)
                .toFloatArray();
        // GPT2LMHeadModel.save_pretrained: transformer.* keys
        write(dir.resolve("lm"), json, huggingFaceTensors(model, false));
        // GPT2Model.save_pretrained, as the original gpt2 checkpoints: bare keys, plus the old causal-mask buffer
        Map<String, Tensor> bare = huggingFaceTensors(model, true);
        bare.put("h.0.attn.bias", Tensor.ofFloats(new long[] {1, 1, 32, 32}, new float[32 * 32]));
        write(dir.resolve("bare"), json, bare);
        for (String layout : new String[] {"lm", "bare"}) {
            CausalLanguageModel loaded = DecoderFamilies.fromHuggingFace(dir.resolve(layout), manager);
            assertThat(loaded).isInstanceOf(Gpt2LMHeadModel.class);
            float[] actual = loaded.logits(new ParameterStore(manager, false), manager.create(ids), null, null, null,
                    false).toFloatArray();
            assertThat(maxDiff(actual, expected, 0)).as(layout).isZero();
        }
    }

    private static void write(Path dir, ObjectNode config, Map<String, Tensor> tensors) throws Exception {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(config));
        new SafeTensors(tensors, SafeTensors.PT_METADATA).write(dir.resolve("model.safetensors"));
    }

    @Test
    void whatIsNotImplementedOrDoesNotFitIsRefusedWithTheReason(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> Gpt2Config.fromJson(config().put("activation_function", "relu"), "config.json"))
                .hasMessage("config.json: activation_function \"relu\" is not supported; expected \"gelu_new\"");
        assertThatThrownBy(() -> Gpt2Config.fromJson(config().put("add_cross_attention", true), "c"))
                .hasMessageContaining("c: add_cross_attention true is not implemented");
        assertThatThrownBy(() -> Gpt2Config.fromJson(config().put("n_head", 5), "c"))
                .hasMessage("c: n_embd 64 is not a multiple of n_head 5");

        Gpt2LMHeadModel model = randomModel(config(), 5);
        assertThatThrownBy(() -> model.logits(new ParameterStore(manager, false), manager.create(new long[1][33]), null,
                null, null, false))
                .hasMessageContaining("position 32 (or a negative one) is outside the 32 learned positions (n_positions)");

        Map<String, Tensor> tensors = huggingFaceTensors(model, false);
        tensors.remove("transformer.wpe.weight");
        tensors.put("transformer.h.1.attn.c_attn.weight", Tensor.ofFloats(new long[] {192, 64}, new float[192 * 64]));
        write(dir.resolve("conv1d"), config(), tensors);
        assertThatThrownBy(() -> DecoderFamilies.fromHuggingFace(dir.resolve("conv1d"), manager))
                .hasMessageContaining("model.safetensors: the checkpoint does not match its config: tensor"
                        + " \"transformer.h.1.attn.c_attn.weight\" has shape [192, 64] but the config gives [64, 192]"
                        + " (a Conv1D weight, stored [in, out])");

        tensors.put("transformer.h.1.attn.c_attn.weight", Tensor.ofFloats(new long[] {64, 192}, new float[192 * 64]));
        tensors.put("transformer.ln_f.weight", Tensor.ofFloats(new long[] {63}, new float[63]));
        write(dir.resolve("broken"), config(), tensors);
        assertThatThrownBy(() -> DecoderFamilies.fromHuggingFace(dir.resolve("broken"), manager))
                .hasMessageContaining("model.safetensors: the checkpoint does not match its config")
                .hasMessageContaining("tensor \"transformer.ln_f.weight\" has shape [63] but the config gives [64]")
                .hasMessageContaining("missing tensor \"transformer.wpe.weight\"");
    }

    @Test
    void loraOnCAttnAddsSTimesBaOnTheFusedProjectionRecordsFanInFanOutAndMerges(@TempDir Path dir) throws Exception {
        Gpt2LMHeadModel model = randomModel(config(), 6);
        LoraConfig lora = LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("c_attn")
                .optInitLoraWeights(LoraInit.RANDOM).optTaskType(TaskType.CAUSAL_LM).build();
        PeftModel peft = Peft.apply(model, lora);
        AdapterCheckpoint saved = peft.checkpoint();
        assertThat(((LoraConfig) saved.config()).fanInFanOut()).isTrue();
        assertThat(saved.tensors()).containsOnlyKeys(
                "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight",
                "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight");
        assertThat(saved.tensors().get("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape())
                .containsExactly(192, 4);
        // the reference adds s·B·A [192, 64] to each c_attn weight: 2 · B A
        Map<String, double[]> deltas = new LinkedHashMap<>();
        for (int l = 0; l < 2; l++) {
            String key = "base_model.model.transformer.h." + l + ".attn.c_attn.lora_";
            float[] a = saved.tensors().get(key + "A.weight").toFloatArray();
            float[] b = saved.tensors().get(key + "B.weight").toFloatArray();
            double[] delta = new double[192 * 64];
            for (int o = 0; o < 192; o++) {
                for (int i = 0; i < 64; i++) {
                    for (int k = 0; k < 4; k++) {
                        delta[o * 64 + i] += 2.0 * b[o * 4 + k] * a[k * 64 + i];
                    }
                }
            }
            deltas.put("transformer.h." + l + ".attn.c_attn.weight", delta);
        }
        long[][] ids = {{1, 5, 9, 3, 22, 7, 4}, {2, 8, 8, 11, 0, 0, 0}};
        long[][] mask = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
        checkAgainstReference(model, ids, mask, null, deltas);

        peft.saveAdapter(dir);
        assertThat(Files.readString(dir.resolve("adapter_config.json"))).contains("\"fan_in_fan_out\" : true");

        float[] unmerged = model.logits(new ParameterStore(manager, false), manager.create(ids), manager.create(mask),
                null, null, false).toFloatArray();
        peft.mergeAndUnload();
        float[] merged = model.logits(new ParameterStore(manager, false), manager.create(ids), manager.create(mask),
                null, null, false).toFloatArray();
        assertThat(maxDiff(merged, unmerged, 0)).isLessThan(TOLERANCE);
    }

    @Test
    void ia3WithPeftsDefaultsForGpt2RecordsFanInFanOutAndPeftsVectorShapes() {
        PeftModel peft = Peft.apply(randomModel(config(), 7),
                Ia3Config.builder().setDefaultTargetModules("gpt2").optTaskType(TaskType.CAUSAL_LM).build());
        AdapterCheckpoint saved = peft.checkpoint();
        assertThat(((Ia3Config) saved.config()).fanInFanOut()).isTrue();
        // PEFT's shapes on GPT-2's Conv1D layers: [out, 1] on c_attn, [1, in] on the feed-forward mlp.c_proj
        assertThat(saved.tensors().get("base_model.model.transformer.h.0.attn.c_attn.ia3_l").shape())
                .containsExactly(192, 1);
        assertThat(saved.tensors().get("base_model.model.transformer.h.0.mlp.c_proj.ia3_l").shape())
                .containsExactly(1, 256);
    }

    /** The architecture in double arithmetic, one sequence at a time, positions 0, 1, 2, ... */
    private static final class Reference {
        private final Gpt2Config c;
        private final Map<String, float[]> w;
        private final Map<String, double[]> deltas;

        /** {@code deltas} are added to the named [out, in] weights (a LoRA adapter's s·B·A). */
        Reference(Gpt2Config c, Map<String, float[]> w, Map<String, double[]> deltas) {
            this.c = c;
            this.w = w;
            this.deltas = deltas;
        }

        double[][] logits(long[] ids) {
            int n = ids.length;
            int hidden = c.nEmbd();
            float[] wte = w.get("transformer.wte.weight");
            float[] wpe = w.get("transformer.wpe.weight");
            double[][] h = new double[n][hidden];
            for (int t = 0; t < n; t++) {
                for (int i = 0; i < hidden; i++) {
                    h[t][i] = wte[(int) ids[t] * hidden + i] + wpe[t * hidden + i];
                }
            }
            for (int l = 0; l < c.nLayer(); l++) {
                String p = "transformer.h." + l + ".";
                double[][] qkv = new double[n][];
                for (int t = 0; t < n; t++) {
                    qkv[t] = linear(layerNorm(h[t], p + "ln_1"), p + "attn.c_attn");
                }
                double[][] attended = attention(qkv, l);
                for (int t = 0; t < n; t++) {
                    double[] a = linear(attended[t], p + "attn.c_proj");
                    for (int i = 0; i < hidden; i++) {
                        h[t][i] += a[i];
                    }
                    double[] inner = linear(layerNorm(h[t], p + "ln_2"), p + "mlp.c_fc");
                    for (int i = 0; i < inner.length; i++) {
                        double x = inner[i];
                        inner[i] = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
                    }
                    double[] out = linear(inner, p + "mlp.c_proj");
                    for (int i = 0; i < hidden; i++) {
                        h[t][i] += out[i];
                    }
                }
            }
            double[][] logits = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] y = layerNorm(h[t], "transformer.ln_f");
                logits[t] = c.tieWordEmbeddings() ? matVec(wte, null, VOCAB, y) : linear(y, "lm_head");
            }
            return logits;
        }

        /** Queries, keys and values are the first, second and third n_embd columns of c_attn's output. */
        private double[][] attention(double[][] qkv, int layer) {
            int n = qkv.length;
            int d = c.headDim();
            int e = c.nEmbd();
            double scaling = (c.scaleAttnWeights() ? 1 / Math.sqrt(d) : 1) / (c.scaleAttnByInverseLayerIdx() ? layer + 1 : 1);
            double[][] out = new double[n][e];
            for (int head = 0; head < c.nHead(); head++) {
                for (int t = 0; t < n; t++) {
                    double[] scores = new double[t + 1];
                    double top = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= t; j++) {
                        for (int i = 0; i < d; i++) {
                            scores[j] += qkv[t][head * d + i] * qkv[j][e + head * d + i];
                        }
                        scores[j] *= scaling;
                        top = Math.max(top, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= t; j++) {
                        scores[j] = Math.exp(scores[j] - top);
                        sum += scores[j];
                    }
                    for (int j = 0; j <= t; j++) {
                        for (int i = 0; i < d; i++) {
                            out[t][head * d + i] += scores[j] / sum * qkv[j][2 * e + head * d + i];
                        }
                    }
                }
            }
            return out;
        }

        private double[] layerNorm(double[] x, String name) {
            double mean = Arrays.stream(x).average().orElseThrow();
            double variance = Arrays.stream(x).map(v -> (v - mean) * (v - mean)).average().orElseThrow();
            float[] scale = w.get(name + ".weight");
            float[] shift = w.get(name + ".bias");
            double[] out = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                out[i] = (x[i] - mean) / Math.sqrt(variance + c.layerNormEpsilon()) * scale[i] + shift[i];
            }
            return out;
        }

        private double[] linear(double[] x, String name) {
            float[] weight = w.get(name + ".weight");
            double[] out = matVec(weight, deltas.get(name + ".weight"), weight.length / x.length, x);
            float[] bias = w.get(name + ".bias");
            for (int o = 0; bias != null && o < out.length; o++) {
                out[o] += bias[o];
            }
            return out;
        }

        private static double[] matVec(float[] weight, double[] delta, int rows, double[] x) {
            double[] out = new double[rows];
            for (int o = 0; o < rows; o++) {
                for (int i = 0; i < x.length; i++) {
                    out[o] += (weight[o * x.length + i] + (delta == null ? 0 : delta[o * x.length + i])) * x[i];
                }
            }
            return out;
        }
    }
}
