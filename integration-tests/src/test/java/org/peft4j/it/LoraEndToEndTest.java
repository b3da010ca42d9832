package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;

/**
 * The whole deployment flow on the real libtorch engine: a base classifier trained and saved with
 * DJL, reloaded, adapted to a shifted task with LoRA through DJL's own EasyTrain, the adapter saved
 * and loaded onto a fresh copy of the base, then merged into a plain model that DJL saves and
 * loads like any other.
 */
class LoraEndToEndTest {
    private static final int FEATURES = 12;
    private static final int SAMPLES = 1024;

    private static SequentialBlock classifier() {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(48).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(48).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(2).build());
    }

    /** Task A: the sign of x0 + x1. Task B (the shift): the sign of x0 * x2 - 0.3. */
    private static ArrayDataset task(NDManager manager, boolean shifted) {
        NDArray x = manager.randomNormal(new Shape(SAMPLES, FEATURES));
        NDArray score = shifted ? x.get(":, 0").mul(x.get(":, 2")).sub(0.3f) : x.get(":, 0").add(x.get(":, 1"));
        NDArray y = score.gt(0).toType(DataType.FLOAT32, false);
        return new ArrayDataset.Builder().setData(x).optLabels(y).setSampling(64, true).build();
    }

    private static float accuracy(Block block, ArrayDataset data, NDManager manager) {
        NDList all = new NDList();
        NDList labels = new NDList();
        for (long i = 0; i < data.size(); i++) {
            var record = data.get(manager, i);
            all.add(record.getData().singletonOrThrow().expandDims(0));
            labels.add(record.getLabels().singletonOrThrow().expandDims(0));
        }
        NDArray logits = logits(block, ai.djl.ndarray.NDArrays.concat(all));
        NDArray predicted = logits.argMax(1).toType(DataType.FLOAT32, false);
        return predicted.eq(ai.djl.ndarray.NDArrays.concat(labels)).toType(DataType.FLOAT32, false).mean().getFloat();
    }

    private static NDArray logits(Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow();
    }

    private static void fit(Trainer trainer, ArrayDataset data, int epochs) throws Exception {
        trainer.initialize(new Shape(64, FEATURES));
        EasyTrain.fit(trainer, epochs, data, null);
    }

    private static DefaultTrainingConfig trainingConfig(float lr) {
        return new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(lr)).build());
    }

    @Test
    void trainSaveLoadMergeDeploy(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(42);
        Path baseDir = dir.resolve("base");
        Path adapterDir = dir.resolve("adapter");
        Path mergedDir = dir.resolve("merged");
        try (NDManager data = NDManager.newBaseManager()) {
            ArrayDataset taskA = task(data, false);
            ArrayDataset taskB = task(data, true);
            ArrayDataset testB = task(data, true);

            try (Model base = Model.newInstance("classifier")) {
                base.setBlock(classifier());
                try (Trainer trainer = base.newTrainer(trainingConfig(0.01f))) {
                    fit(trainer, taskA, 10);
                }
                assertThat(accuracy(base.getBlock(), taskA, data)).isGreaterThan(0.95f);
                base.save(baseDir, "classifier");
            }

            NDArray probe = data.randomNormal(new Shape(16, FEATURES));
            float[] adaptedLogits;
            float baseAccuracyOnB;
            float adaptedAccuracyOnB;
            try (Model model = Model.newInstance("classifier")) {
                model.setBlock(classifier());
                model.load(baseDir, "classifier");
                baseAccuracyOnB = accuracy(model.getBlock(), testB, data);
                Map<String, float[]> baseValues = values(model.getBlock());

                PeftModel peft = Peft.apply(model.getBlock(),
                        LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetAllLinear().build());
                System.out.println(peft.trainableParameters());
                try (Trainer trainer = peft.newTrainer(model, trainingConfig(0.01f))) {
                    fit(trainer, taskB, 40);
                }
                adaptedAccuracyOnB = accuracy(model.getBlock(), testB, data);
                System.out.printf("task B accuracy: base %.3f, LoRA %.3f%n", baseAccuracyOnB, adaptedAccuracyOnB);
                assertThat(adaptedAccuracyOnB).isGreaterThan(baseAccuracyOnB + 0.2f).isGreaterThan(0.85f);
                Map<String, float[]> after = values(model.getBlock());
                baseValues.forEach((name, v) -> assertThat(after.get(name)).as(name).containsExactly(v));

                adaptedLogits = logits(model.getBlock(), probe).toFloatArray();
                peft.saveAdapter(adapterDir);
            }

            try (Model model = Model.newInstance("classifier")) {
                model.setBlock(classifier());
                model.load(baseDir, "classifier");
                PeftModel peft = Peft.load(model.getBlock(), adapterDir);
                assertThat(logits(model.getBlock(), probe).toFloatArray()).containsExactly(adaptedLogits);
                peft.mergeAndUnload();
                // DJL 0.36 cannot save a loaded block that was never initialized (its input names
                // are unset); initializing an already-loaded block keeps its values
                model.getBlock().initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, FEATURES));
                model.save(mergedDir, "classifier");
            }

            try (Model merged = Model.newInstance("classifier")) {
                merged.setBlock(classifier());
                merged.load(mergedDir, "classifier");
                float[] deployed = logits(merged.getBlock(), probe).toFloatArray();
                for (int i = 0; i < deployed.length; i++) {
                    assertThat(deployed[i]).isCloseTo(adaptedLogits[i], org.assertj.core.data.Offset.offset(1e-4f));
                }
                assertThat(accuracy(merged.getBlock(), testB, data)).isEqualTo(adaptedAccuracyOnB);
            }
        }
    }

    /** Every base parameter's values by name (adapter parameters left out). */
    private static Map<String, float[]> values(Block block) {
        Map<String, float[]> out = new HashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (!p.getKey().contains("lora_")) {
                out.put(p.getKey(), p.getValue().getArray().toFloatArray());
            }
        }
        return out;
    }
}
