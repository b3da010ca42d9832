package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.lora.algebra.LoraDecompositionInit;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.lora.LoraLinear;

/**
 * PiSSA and OLoRA on DJL layers: the base weight becomes W_res and the model's output stays the
 * base's; a trained adapter, converted to plain LoRA, gives the same output on the original base.
 */
class DecompositionInitTest {
    private static TestBlocks.TwoTower block(NDManager manager) {
        Engine.getInstance().setRandomSeed(5);
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(16, 4);
        block.initialize(manager, DataType.FLOAT32, new Shape(6, 10));
        return block;
    }

    @Test
    void theOutputStaysTheBasesAndTheWeightChanges() {
        for (LoraConfig config : new LoraConfig[] {
            LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value").optInitLoraWeights(LoraInit.PISSA).build(),
            LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value").optPissaNiter(4).build(),
            LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value").optInitLoraWeights(LoraInit.OLORA).build()}) {
            try (NDManager manager = NDManager.newBaseManager()) {
                TestBlocks.TwoTower block = block(manager);
                NDArray x = manager.randomNormal(new Shape(6, 10));
                float[] base = TestBlocks.forward(block, x).toFloatArray();
                float[] w = block.queryField().getDirectParameters().get("weight").getArray().toFloatArray();
                Peft.apply(block, config);
                assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), base))
                        .as(config.initLoraWeights().toString()).isLessThan(1e-5);
                float[] residual = ((LoraLinear) block.queryField()).weight().getArray().toFloatArray();
                assertThat(TestBlocks.maxAbsDiff(residual, w)).isGreaterThan(1e-2);
            }
        }
    }

    @Test
    void aConvertedAdapterOnTheOriginalBaseEqualsThePissaModel() {
        LoraConfig config = LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query")
                .optInitLoraWeights(LoraInit.PISSA).build(); // s = 2
        try (NDManager manager = NDManager.newBaseManager()) {
            TestBlocks.TwoTower block = block(manager);
            NDArray x = manager.randomNormal(new Shape(6, 10));
            PeftModel pissa = Peft.apply(block, config);
            AdapterCheckpoint initial = pissa.checkpoint();
            // "training": A and B move
            Map<String, Tensor> moved = new HashMap<>();
            Random random = new Random(9);
            initial.tensors().forEach((key, t) -> {
                float[] v = t.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    v[i] += (float) (0.05 * random.nextGaussian());
                }
                moved.put(key, Tensor.ofFloats(t.shape(), v));
            });
            AdapterCheckpoint trained = new AdapterCheckpoint(initial.config(), moved);
            // the trained PiSSA model, W_res + s·B·A, written into the base weight by hand
            NDArray weight = ((LoraLinear) block.queryField()).weight().getArray();
            float[] residual = weight.toFloatArray();
            float[] a = moved.get("base_model.model.query.lora_A.weight").toFloatArray();
            float[] b = moved.get("base_model.model.query.lora_B.weight").toFloatArray();
            float[] tunedWeight = residual.clone();
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 10; j++) {
                    for (int k = 0; k < 4; k++) {
                        tunedWeight[i * 10 + j] += 2 * b[i * 4 + k] * a[k * 10 + j];
                    }
                }
            }
            float[] tuned;
            try (PeftModel.Scope off = pissa.disableAdapters()) {
                weight.set(FloatBuffer.wrap(tunedWeight));
                tuned = TestBlocks.forward(block, x).toFloatArray();
                weight.set(FloatBuffer.wrap(residual));
            }

            AdapterCheckpoint converted = LoraDecompositionInit.convertToLora(trained, initial);
            assertThat(((LoraConfig) converted.config()).r()).isEqualTo(8);
            TestBlocks.TwoTower original = block(manager);
            Peft.load(original, converted, "converted");
            assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(original, x).toFloatArray(), tuned)).isLessThan(1e-4);

            // the PiSSA adapter itself, loaded onto the original base, decomposes W again, as PEFT does
            TestBlocks.TwoTower again = block(manager);
            Peft.load(again, trained, "trained");
            assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(again, x).toFloatArray(), tuned)).isLessThan(1e-4);
        }
    }
}
