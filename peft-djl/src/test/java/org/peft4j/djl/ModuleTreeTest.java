package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.transformer.ScaledDotProductAttentionBlock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ModuleTreeTest {

    @Test
    void sequentialChildrenAreNumberedFromZeroLikePyTorch() {
        SequentialBlock block = new SequentialBlock()
                .add(TestBlocks.mlp(4, 2))
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(3).build());
        Map<String, Block> modules = ModuleTree.modules(block);
        assertThat(modules.keySet()).containsExactly("0", "0.0", "0.1", "0.2", "1", "2");
        assertThat(modules.get("0.2")).isInstanceOf(Linear.class);
    }

    @Test
    void namedChildrenKeepTheNameTheyWereAddedWith() {
        SequentialBlock root = new SequentialBlock().add(new TestBlocks.TwoTower(4, 2));
        assertThat(ModuleTree.modules(root).keySet()).containsExactly("0", "0.query", "0.value", "0.output");
    }

    @Test
    void parallelBranchesAreNumberedAndDjlAttentionKeepsItsNames() {
        ParallelBlock parallel = new ParallelBlock(
                list -> list.get(0),
                List.of(Linear.builder().setUnits(2).build(), Linear.builder().setUnits(2).build()));
        assertThat(ModuleTree.modules(parallel).keySet()).containsExactly("0", "1");

        Block attention = ScaledDotProductAttentionBlock.builder().setEmbeddingSize(8).setHeadCount(2).build();
        assertThat(ModuleTree.modules(attention).keySet())
                .contains("keyProjection", "queryProjection", "valueProjection", "resultProjection");
    }

    @Test
    void pathsDoNotDependOnInitialization() {
        SequentialBlock block = TestBlocks.mlp(4, 2);
        Map<String, Block> before = ModuleTree.modules(block);
        try (NDManager manager = NDManager.newBaseManager()) {
            block.initialize(manager, DataType.FLOAT32, new Shape(1, 3));
            assertThat(ModuleTree.modules(block).keySet()).containsExactlyElementsOf(before.keySet());
        }
    }
}
