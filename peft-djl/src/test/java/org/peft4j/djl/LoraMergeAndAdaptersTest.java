package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.lora.LoraLinear;

/** Merging, disabling, several named adapters, and unloading. */
class LoraMergeAndAdaptersTest {
    private NDManager manager;
    private TestBlocks.TwoTower block;
    private NDArray x;
    private float[] baseOutput;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(3);
        manager = NDManager.newBaseManager();
        block = new TestBlocks.TwoTower(16, 4);
        block.initialize(manager, DataType.FLOAT32, new Shape(6, 10));
        x = manager.randomNormal(new Shape(6, 10));
        baseOutput = TestBlocks.forward(block, x).toFloatArray();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static LoraConfig randomLora(int rank, String... targets) {
        return LoraConfig.builder().optR(rank).optLoraAlpha(2f * rank).optInitLoraWeights(LoraInit.RANDOM).setTargetModules(targets).build();
    }

    @Test
    void mergedOutputEqualsUnmergedAndUnmergeRestoresTheWeights() {
        Map<Parameter, float[]> weights = TestBlocks.snapshot(block);
        PeftModel peft = Peft.apply(block, randomLora(4, "query", "value", "output"));
        float[] unmerged = TestBlocks.forward(block, x).toFloatArray();

        peft.merge();
        assertThat(peft.isMerged()).isTrue();
        float[] merged = TestBlocks.forward(block, x).toFloatArray();
        assertThat(TestBlocks.maxAbsDiff(merged, unmerged)).isLessThan(1e-5);
        // W changed by exactly s·B·A: the merged weight differs from the base
        Parameter queryWeight = ((LoraLinear) block.queryField()).weight();
        assertThat(TestBlocks.maxAbsDiff(queryWeight.getArray().toFloatArray(), weights.get(queryWeight)))
                .isGreaterThan(1e-4);

        peft.unmerge();
        assertThat(peft.isMerged()).isFalse();
        for (Map.Entry<Parameter, float[]> e : weights.entrySet()) {
            assertThat(TestBlocks.maxAbsDiff(e.getKey().getArray().toFloatArray(), e.getValue())).isLessThan(1e-6);
        }
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), unmerged)).isLessThan(1e-5);
    }

    @Test
    void disablingGivesTheBaseOutputForTheScopeOnly() {
        PeftModel peft = Peft.apply(block, randomLora(4, "query", "value"));
        float[] adapted = TestBlocks.forward(block, x).toFloatArray();
        try (PeftModel.Scope off = peft.disableAdapters()) {
            assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(baseOutput);
        }
        assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(adapted);

        peft.merge();
        try (PeftModel.Scope off = peft.disableAdapters()) {
            assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), baseOutput)).isLessThan(1e-5);
        }
        assertThat(peft.isMerged()).isTrue();
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), adapted)).isLessThan(1e-5);
    }

    @Test
    void severalNamedAdaptersSwitchAndDelete() {
        PeftModel peft = Peft.apply(block, randomLora(2, "query"), "first");
        float[] first = TestBlocks.forward(block, x).toFloatArray();
        peft.addAdapter("second", randomLora(8, "query", "output"));
        assertThat(peft.activeAdapter()).isEqualTo("second");
        float[] second = TestBlocks.forward(block, x).toFloatArray();
        assertThat(TestBlocks.maxAbsDiff(first, second)).isGreaterThan(1e-4);

        // only the active adapter trains
        long secondSize = 8 * (10 + 16) + 8 * (16 + 4); // query: A [8, 10], B [16, 8]; output: A [8, 16], B [4, 8]
        assertThat(peft.trainableParameters().trainable()).isEqualTo(secondSize);
        peft.setActiveAdapter("first");
        assertThat(peft.trainableParameters().trainable()).isEqualTo(2 * (10 + 16));
        assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(first);

        assertThatThrownBy(() -> peft.addAdapter("first", randomLora(2, "value")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"first\" is already attached");
        assertThatThrownBy(() -> peft.setActiveAdapter("third"))
                .hasMessageContaining("no adapter named \"third\"").hasMessageContaining("[first, second]");

        peft.deleteAdapter("first");
        assertThat(peft.adapterNames()).containsExactly("second");
        assertThat(peft.activeAdapter()).isEqualTo("second");
        assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(second);
        assertThat(block.queryField()).isInstanceOf(LoraLinear.class); // "second" still lives there
    }

    @Test
    void unloadRestoresTheOriginalBlocksAndWeights() {
        Linear originalQuery = block.queryField();
        Map<Parameter, float[]> weights = TestBlocks.snapshot(block);
        PeftModel peft = Peft.apply(block, randomLora(4, "query", "value"));
        peft.addAdapter("other", randomLora(2, "output"));
        peft.setActiveAdapter("default");
        peft.merge();
        peft.unload();
        assertThat(block.queryField()).isSameAs(originalQuery);
        assertThat(ModuleTree.modules(block).values()).noneMatch(b -> b instanceof LoraLinear);
        assertThat(TestBlocks.snapshot(block).keySet()).containsExactlyInAnyOrderElementsOf(weights.keySet());
        for (Map.Entry<Parameter, float[]> e : weights.entrySet()) {
            assertThat(TestBlocks.maxAbsDiff(e.getKey().getArray().toFloatArray(), e.getValue())).isLessThan(1e-6);
        }
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), baseOutput)).isLessThan(1e-5);
    }

    @Test
    void mergeAndUnloadLeavesPlainLinearLayersComputingTheAdaptedModel() {
        PeftModel peft = Peft.apply(block, randomLora(4, "query", "value"));
        float[] adapted = TestBlocks.forward(block, x).toFloatArray();
        peft.mergeAndUnload();
        assertThat(ModuleTree.modules(block).values()).noneMatch(b -> b instanceof LoraLinear);
        assertThat(block.queryField().getClass()).isEqualTo(Linear.class);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), adapted)).isLessThan(1e-5);
        assertThat(peft.adapterNames()).isEmpty();
    }

    @Test
    void modulesToSaveTrainWholeAndAreRestoredWhenTheAdapterIsDeleted() {
        PeftModel peft = Peft.apply(block, LoraConfig.builder().setTargetModules("query").optModulesToSave("output").build());
        assertThat(peft.adapter("default").stateDict().keySet()).containsExactlyInAnyOrder(
                "base_model.model.query.lora_A.weight", "base_model.model.query.lora_B.weight",
                "base_model.model.output.weight", "base_model.model.output.bias");
        Parameter head = block.getChildren().get("03output").getParameters().get("weight");
        assertThat(head.requiresGradient()).isTrue();
        float[] original = head.getArray().toFloatArray();
        head.getArray().set(new float[original.length]); // as if training changed it
        peft.deleteAdapter("default");
        assertThat(head.getArray().toFloatArray()).containsExactly(original);
        assertThat(head.requiresGradient()).isFalse();
    }
}
