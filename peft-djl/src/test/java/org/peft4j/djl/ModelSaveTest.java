package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.internal.StateDicts;

/**
 * DJL's own {@code Model.save} with adapters attached (what DJL's checkpoint listeners call every
 * epoch): the file holds the base and the adapters, and loads into a model that has the same
 * adapters applied; a plain model loads the file that {@code mergeAndUnload()} leaves.
 */
class ModelSaveTest {
    private static final LoraConfig LORA = LoraConfig.builder().optR(2).optLoraAlpha(4).setTargetAllLinear().build();

    private static Block newMlp(Model model) {
        Block block = TestBlocks.mlp(8, 3);
        block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(2, 4));
        model.setBlock(block);
        return block;
    }

    /** Gives every lora_B a value, as training would, so the adapter changes the output. */
    private static void train(PeftModel peft) {
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(peft.block()).entrySet()) {
            if (e.getKey().contains("lora_B")) {
                NDArray b = e.getValue().getArray();
                b.set(b.getManager().randomNormal(b.getShape()).mul(0.5f).toFloatArray());
            }
        }
    }

    @Test
    void aModelWithAdaptersSavesAndLoadsIntoTheSameAdaptedStructure(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        try (Model model = Model.newInstance("m"); Model again = Model.newInstance("m")) {
            PeftModel peft = Peft.apply(newMlp(model), LORA);
            train(peft);
            NDArray x = model.getNDManager().randomNormal(new Shape(5, 4));
            float[] expected = TestBlocks.forward(model.getBlock(), x).toFloatArray();
            float[] base;
            try (PeftModel.Scope off = peft.disableAdapters()) {
                base = TestBlocks.forward(model.getBlock(), x).toFloatArray();
            }
            model.save(dir, "m");

            Block fresh = newMlp(again); // other random weights until loaded
            PeftModel restored = Peft.apply(fresh, LORA);
            again.load(dir, "m");
            NDArray y = again.getNDManager().create(x.toFloatArray(), x.getShape());
            assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(fresh, y).toFloatArray(), expected)).isZero();
            try (PeftModel.Scope off = restored.disableAdapters()) {
                assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(fresh, y).toFloatArray(), base)).isZero();
            }
        }
    }

    @Test
    void aPlainModelLoadsTheMergedModelButNotTheAdaptedFile(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(4);
        try (Model model = Model.newInstance("m"); Model plain = Model.newInstance("m");
                Model merged = Model.newInstance("m")) {
            PeftModel peft = Peft.apply(newMlp(model), LORA);
            train(peft);
            NDArray x = model.getNDManager().randomNormal(new Shape(5, 4));
            float[] expected = TestBlocks.forward(model.getBlock(), x).toFloatArray();
            model.save(dir.resolve("adapted"), "m");
            newMlp(plain);
            assertThatThrownBy(() -> plain.load(dir.resolve("adapted"), "m")).isInstanceOf(MalformedModelException.class);

            model.setBlock(peft.mergeAndUnload());
            model.save(dir.resolve("merged"), "m");
            Block loaded = newMlp(merged);
            merged.load(dir.resolve("merged"), "m");
            NDArray y = merged.getNDManager().create(x.toFloatArray(), x.getShape());
            assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(loaded, y).toFloatArray(), expected)).isLessThan(1e-6);
        }
    }
}
