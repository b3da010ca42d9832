package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.FloatBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.lora.algebra.CombinationType;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.lora.LoraLinear;

/** {@link PeftModel#addWeightedAdapter}: the combined adapter computes what the base with W + Σ w_i ΔW_i computes. */
class AddWeightedAdapterTest {
    private static final String A_KEY = "base_model.model.query.lora_A.weight";
    private static final String B_KEY = "base_model.model.query.lora_B.weight";

    /** ΔW = s·B·A of module query, read from the adapter's saved tensors, with s = alpha / r = 2. */
    private static float[] delta(PeftModel peft, String adapter) {
        float[] a = peft.checkpoint(adapter).tensors().get(A_KEY).toFloatArray();
        Tensor bt = peft.checkpoint(adapter).tensors().get(B_KEY);
        float[] b = bt.toFloatArray();
        int out = (int) bt.shape()[0];
        int r = (int) bt.shape()[1];
        int in = a.length / r;
        float[] d = new float[out * in];
        for (int i = 0; i < out; i++) {
            for (int j = 0; j < in; j++) {
                double sum = 0;
                for (int k = 0; k < r; k++) {
                    sum += b[i * r + k] * a[k * in + j];
                }
                d[i * in + j] = (float) (2 * sum);
            }
        }
        return d;
    }

    @Test
    void theCombinedAdapterEqualsTheWeightedSumOfTheUpdates() {
        Engine.getInstance().setRandomSeed(11);
        try (NDManager manager = NDManager.newBaseManager()) {
            TestBlocks.TwoTower block = new TestBlocks.TwoTower(16, 4);
            block.initialize(manager, DataType.FLOAT32, new Shape(6, 10));
            NDArray x = manager.randomNormal(new Shape(6, 10));
            LoraConfig lora = LoraConfig.builder().optR(2).optLoraAlpha(4).optInitLoraWeights(LoraInit.RANDOM)
                    .setTargetModules("query").build();
            PeftModel peft = Peft.apply(block, lora);
            peft.addAdapter("other", lora);
            float[] d1 = delta(peft, "default");
            float[] d2 = delta(peft, "other");

            peft.addWeightedAdapter(List.of("default", "other"), List.of(1.0, -0.5), "both", CombinationType.CAT);
            assertThat(peft.adapterNames()).containsExactly("default", "other", "both");
            assertThat(peft.activeAdapter()).isEqualTo("other");
            peft.setActiveAdapter("both");
            float[] combined = TestBlocks.forward(block, x).toFloatArray();

            NDArray weight = ((LoraLinear) block.queryField()).weight().getArray();
            float[] w = weight.toFloatArray();
            float[] expectedWeight = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                expectedWeight[i] = w[i] + d1[i] - 0.5f * d2[i];
            }
            float[] expected;
            try (PeftModel.Scope off = peft.disableAdapters()) {
                weight.set(FloatBuffer.wrap(expectedWeight));
                expected = TestBlocks.forward(block, x).toFloatArray();
                weight.set(FloatBuffer.wrap(w));
            }
            assertThat(TestBlocks.maxAbsDiff(combined, expected)).isLessThan(1e-5);
            assertThat(TestBlocks.maxAbsDiff(combined, TestBlocks.forward(block, x).toFloatArray())).isZero();

            assertThatThrownBy(() -> peft.addWeightedAdapter(List.of("default", "other"), List.of(1.0), "bad",
                    CombinationType.CAT)).hasMessageContaining("got 2 adapters [default, other] but 1 weights");
            assertThatThrownBy(() -> peft.addWeightedAdapter(List.of("default"), List.of(1.0), "both",
                    CombinationType.CAT)).hasMessageContaining("already attached");
            assertThat(peft.adapterNames()).containsExactly("default", "other", "both");
        }
    }
}
