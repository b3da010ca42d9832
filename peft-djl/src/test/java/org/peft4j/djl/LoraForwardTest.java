package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.transformer.BertBlock;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.lora.LoraLinear;

/** The LoRA forward pass against y = W x + b + s·B(A x) written out in double arithmetic. */
class LoraForwardTest {
    private NDManager manager;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(7);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    @ParameterizedTest(name = "r={0}, alpha={1}, rslora={2}")
    @CsvSource({"1,1,false", "4,16,false", "8,8,true", "16,32,true"})
    void forwardEqualsTheFormula(int rank, float alpha, boolean rslora) {
        Linear linear = Linear.builder().setUnits(6).build();
        SequentialBlock block = new SequentialBlock().add(linear);
        block.initialize(manager, DataType.FLOAT32, new Shape(5, 10));
        float[] w = linear.getParameters().get("weight").getArray().toFloatArray();
        float[] b = linear.getParameters().get("bias").getArray().toFloatArray();

        LoraConfig cfg = LoraConfig.builder().optR(rank).optLoraAlpha(alpha).optUseRslora(rslora)
                .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("0").build();
        PeftModel peft = Peft.apply(block, cfg);
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        float[] a = state.get("base_model.model.0.lora_A.weight").toFloatArray();
        float[] bm = state.get("base_model.model.0.lora_B.weight").toFloatArray();
        assertThat(state.get("base_model.model.0.lora_A.weight").shape()).containsExactly(rank, 10);
        assertThat(state.get("base_model.model.0.lora_B.weight").shape()).containsExactly(6, rank);

        NDArray x = manager.randomNormal(new Shape(5, 10));
        float[] actual = TestBlocks.forward(block, x).toFloatArray();
        double s = rslora ? alpha / Math.sqrt(rank) : alpha / rank;
        float[] expected = loraFormula(x.toFloatArray(), 5, 10, 6, rank, w, b, a, bm, s);
        assertThat(TestBlocks.maxAbsDiff(actual, expected)).isLessThan(1e-5);
        // the adapter really contributes: the base output is far from it
        float[] base = loraFormula(x.toFloatArray(), 5, 10, 6, rank, w, b, a, bm, 0);
        assertThat(TestBlocks.maxAbsDiff(actual, base)).isGreaterThan(1e-3);
    }

    /** y[n, j] = sum_i W[j, i] x[n, i] + b[j] + s * sum_k B[j, k] sum_i A[k, i] x[n, i]. */
    static float[] loraFormula(float[] x, int rows, int in, int out, int r, float[] w, float[] b, float[] a,
            float[] bm, double s) {
        float[] y = new float[rows * out];
        for (int n = 0; n < rows; n++) {
            double[] ax = new double[r];
            for (int k = 0; k < r; k++) {
                for (int i = 0; i < in; i++) {
                    ax[k] += a[k * in + i] * (double) x[n * in + i];
                }
            }
            for (int j = 0; j < out; j++) {
                double v = b[j];
                for (int i = 0; i < in; i++) {
                    v += w[j * in + i] * (double) x[n * in + i];
                }
                double lora = 0;
                for (int k = 0; k < r; k++) {
                    lora += bm[j * r + k] * ax[k];
                }
                y[n * out + j] = (float) (v + s * lora);
            }
        }
        return y;
    }

    @Test
    void dropoutActsOnlyWhileTraining() {
        Linear linear = Linear.builder().setUnits(6).build();
        SequentialBlock block = new SequentialBlock().add(linear);
        block.initialize(manager, DataType.FLOAT32, new Shape(5, 10));
        float[] w = linear.getParameters().get("weight").getArray().toFloatArray();
        float[] b = linear.getParameters().get("bias").getArray().toFloatArray();
        PeftModel peft = Peft.apply(block, LoraConfig.builder().optR(2).optLoraAlpha(4).optLoraDropout(0.5f)
                .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("0").build());
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        NDArray x = manager.randomNormal(new Shape(5, 10));
        float[] expected = loraFormula(x.toFloatArray(), 5, 10, 6, 2, w, b,
                state.get("base_model.model.0.lora_A.weight").toFloatArray(),
                state.get("base_model.model.0.lora_B.weight").toFloatArray(), 2);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), expected)).isLessThan(1e-5);
        try (ai.djl.training.GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray training = block.forward(new ai.djl.training.ParameterStore(manager, false),
                    new ai.djl.ndarray.NDList(x), true).singletonOrThrow();
            assertThat(TestBlocks.maxAbsDiff(training.toFloatArray(), expected)).isGreaterThan(1e-4);
        }
    }

    @Test
    void rankAndAlphaPatternsGiveModulesTheirOwnShapesAndScaling() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 3);
        block.initialize(manager, DataType.FLOAT32, new Shape(4, 6));
        PeftModel peft = Peft.apply(block, LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value")
                .optRankPattern("value", 2).optAlphaPattern("value", 1).build());
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        assertThat(state.get("base_model.model.query.lora_A.weight").shape()).containsExactly(4, 6);
        assertThat(state.get("base_model.model.value.lora_A.weight").shape()).containsExactly(2, 6);
        assertThat(state.get("base_model.model.value.lora_B.weight").shape()).containsExactly(8, 2);
        org.peft4j.api.lora.LoraAdapter lora = (org.peft4j.api.lora.LoraAdapter) peft.adapter("default");
        assertThat(lora.scaling("query")).isEqualTo(2f);
        assertThat(lora.scaling("value")).isEqualTo(0.5f);
    }

    @Test
    void biasAllTrainsEveryBiasAndSavesIt() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 3);
        block.initialize(manager, DataType.FLOAT32, new Shape(4, 6));
        PeftModel peft = Peft.apply(block, LoraConfig.builder().optR(2).setTargetModules("query")
                .optBias(org.peft4j.api.lora.LoraBias.ALL).build());
        assertThat(peft.adapter("default").stateDict().keySet()).containsExactlyInAnyOrder(
                "base_model.model.query.lora_A.weight", "base_model.model.query.lora_B.weight",
                "base_model.model.query.bias", "base_model.model.value.bias", "base_model.model.output.bias");
        assertThat(peft.trainableParameters().trainable()).isEqualTo(2 * 6 + 8 * 2 + 8 + 8 + 3);
        TestBlocks.TwoTower other = new TestBlocks.TwoTower(8, 3);
        other.initialize(manager, DataType.FLOAT32, new Shape(4, 6));
        PeftModel onlyLora = Peft.apply(other, LoraConfig.builder().optR(2)
                .setTargetModules("value").optBias(org.peft4j.api.lora.LoraBias.LORA_ONLY).build(), "x");
        assertThat(onlyLora.adapter("x").stateDict()).containsKey("base_model.model.value.bias").hasSize(3);
    }

    @Test
    void aFreshAdapterLeavesTheOutputExactlyUnchanged() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 3);
        block.initialize(manager, DataType.FLOAT32, new Shape(4, 6));
        NDArray x = manager.randomNormal(new Shape(4, 6));
        float[] before = TestBlocks.forward(block, x).toFloatArray();
        Peft.apply(block, LoraConfig.builder().optR(4).optLoraAlpha(32).setTargetAllLinear().build());
        assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(before);
    }

    @Test
    void defaultInitIsKaimingUniformAAndZeroB() {
        Linear linear = Linear.builder().setUnits(64).build();
        SequentialBlock block = new SequentialBlock().add(linear);
        block.initialize(manager, DataType.FLOAT32, new Shape(1, 400));
        PeftModel peft = Peft.apply(block, LoraConfig.builder().optR(16).setTargetModules("0").build());
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        float[] a = state.get("base_model.model.0.lora_A.weight").toFloatArray();
        double bound = 1 / Math.sqrt(400); // kaiming-uniform, a = sqrt(5): 1 / sqrt(fan_in)
        double sumSq = 0;
        for (float v : a) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo((float) bound);
            sumSq += v * (double) v;
        }
        // the variance of U(-bound, bound) is bound^2 / 3; 6,400 draws land within 10%
        assertThat(sumSq / a.length).isCloseTo(bound * bound / 3, org.assertj.core.data.Percentage.withPercentage(10));
        assertThat(state.get("base_model.model.0.lora_B.weight").toFloatArray()).containsOnly(0f);
    }

    @Test
    void injectsIntoPrivateFieldsOfAUsersOwnBlock() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 3);
        block.initialize(manager, DataType.FLOAT32, new Shape(2, 6));
        Linear original = block.queryField();
        PeftModel peft = Peft.apply(block, LoraConfig.builder().setTargetModules("query", "value").optInitLoraWeights(LoraInit.RANDOM).build());
        assertThat(block.queryField()).isInstanceOf(LoraLinear.class);
        assertThat(((LoraLinear) block.queryField()).base()).isSameAs(original);
        assertThat(ModuleTree.modules(block).get("query")).isSameAs(block.queryField());
        assertThat(ModuleTree.modules(block).get("output")).isNotInstanceOf(LoraLinear.class);
        assertThat(((org.peft4j.api.lora.LoraAdapter) peft.adapter("default")).targetedModules())
                .containsExactly("query", "value");
    }

    @Test
    void worksOnDjlAttentionAndBertBlocks() {
        ScaledDotProductAttentionBlock attention =
                ScaledDotProductAttentionBlock.builder().setEmbeddingSize(8).setHeadCount(2).optAttentionProbsDropoutProb(0).build();
        attention.initialize(manager, DataType.FLOAT32, new Shape(2, 5, 8));
        NDArray x = manager.randomNormal(new Shape(2, 5, 8));
        float[] before = TestBlocks.forward(attention, x).toFloatArray();
        PeftModel peft = Peft.apply(attention,
                LoraConfig.builder().setTargetModules("queryProjection", "valueProjection").optInitLoraWeights(LoraInit.RANDOM).build());
        assertThat(((org.peft4j.api.lora.LoraAdapter) peft.adapter("default")).targetedModules())
                .containsExactly("queryProjection", "valueProjection");
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(attention, x).toFloatArray(), before)).isGreaterThan(1e-4);
        try (PeftModel.Scope off = peft.disableAdapters()) {
            assertThat(TestBlocks.forward(attention, x).toFloatArray()).containsExactly(before);
        }

        BertBlock bert = BertBlock.builder().micro().setTokenDictionarySize(50).optMaxSequenceLength(16).build();
        bert.initialize(manager, DataType.FLOAT32, new Shape(2, 16), new Shape(2, 16), new Shape(2, 16));
        long projections = ModuleTree.modules(bert).keySet().stream()
                .filter(path -> path.endsWith(".queryProjection") || path.endsWith(".valueProjection"))
                .count();
        PeftModel bertPeft = Peft.apply(bert, LoraConfig.builder().setTargetModulesRegex(".*(queryProjection|valueProjection)").build());
        long targeted = ((org.peft4j.api.lora.LoraAdapter) bertPeft.adapter("default")).targetedModules().size();
        assertThat(targeted).isEqualTo(projections).isGreaterThanOrEqualTo(4);
        for (Map.Entry<String, Block> e : ModuleTree.modules(bert).entrySet()) {
            if (e.getKey().endsWith("queryProjection")) {
                assertThat(e.getValue()).isInstanceOf(LoraLinear.class);
            }
        }
        for (ai.djl.util.Pair<String, Parameter> p : bert.getParameters()) {
            assertThat(p.getValue().requiresGradient()).as(p.getKey()).isEqualTo(p.getKey().contains("lora_"));
        }
    }
}
