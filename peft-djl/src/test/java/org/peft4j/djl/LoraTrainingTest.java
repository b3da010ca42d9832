package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.ArrayDataset;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;

/** LoRA under DJL's own Trainer and EasyTrain: the loss falls and the base stays bit-identical. */
class LoraTrainingTest {
    private static final int FEATURES = 8;

    /** An optimizer that records which parameters it was asked to update (and so holds state for). */
    static final class RecordingOptimizer extends Optimizer {
        final Set<String> updated = ConcurrentHashMap.newKeySet();
        private final Optimizer adam = Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.02f)).build();

        RecordingOptimizer() {
            super(new NoOptions());
        }

        @Override
        public void update(String parameterId, NDArray weight, NDArray grad) {
            updated.add(parameterId);
            adam.update(parameterId, weight, grad);
        }

        static final class NoOptions extends OptimizerBuilder<NoOptions> {
            @Override
            protected NoOptions self() {
                return this;
            }
        }
    }

    /** A regression target the base model was never trained on: y = sin(x0) + x1 * x2. */
    private static ArrayDataset dataset(NDManager manager) {
        NDArray x = manager.randomNormal(new Shape(256, FEATURES));
        NDArray y = x.get(":, 0").sin().add(x.get(":, 1").mul(x.get(":, 2"))).reshape(256, 1);
        return new ArrayDataset.Builder().setData(x).optLabels(y).setSampling(32, true).build();
    }

    private static float meanLoss(Block block, ArrayDataset data, NDManager manager) throws Exception {
        double sum = 0;
        int batches = 0;
        for (Batch batch : data.getData(manager)) {
            try (batch) {
                NDArray pred = TestBlocks.forward(block, batch.getData().singletonOrThrow());
                sum += pred.sub(batch.getLabels().singletonOrThrow()).square().mean().getFloat();
                batches++;
            }
        }
        return (float) (sum / batches);
    }

    @Test
    void easyTrainUpdatesOnlyTheAdapterAndTheLossFalls() throws Exception {
        Engine.getInstance().setRandomSeed(11);
        try (Model model = Model.newInstance("lora-train")) {
            TestBlocks.TwoTower block = new TestBlocks.TwoTower(32, 1);
            model.setBlock(block);
            block.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(32, FEATURES));
            Map<Parameter, float[]> base = TestBlocks.snapshot(block);

            PeftModel peft = Peft.apply(block,
                    LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value", "output").build());
            Map<Parameter, float[]> adapterBefore = adapterValues(peft);
            ArrayDataset data = dataset(model.getNDManager());
            float lossBefore = meanLoss(block, data, model.getNDManager());

            RecordingOptimizer optimizer = new RecordingOptimizer();
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss()).optOptimizer(optimizer);
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(32, FEATURES));
                for (int epoch = 0; epoch < 30; epoch++) {
                    for (Batch batch : trainer.iterateDataset(data)) {
                        EasyTrain.trainBatch(trainer, batch);
                        trainer.step();
                        batch.close();
                    }
                }
            }
            float lossAfter = meanLoss(block, data, model.getNDManager());
            assertThat(lossAfter).isLessThan(lossBefore * 0.6f);

            // every base parameter is bit-identical and never had a gradient
            for (Map.Entry<Parameter, float[]> e : base.entrySet()) {
                assertThat(e.getKey().getArray().toFloatArray()).as(e.getKey().getName()).containsExactly(e.getValue());
                assertThat(e.getKey().requiresGradient()).isFalse();
            }
            // every adapter parameter changed
            for (Map.Entry<Parameter, float[]> e : adapterBefore.entrySet()) {
                assertThat(TestBlocks.maxAbsDiff(e.getKey().getArray().toFloatArray(), e.getValue()))
                        .as(e.getKey().getName()).isGreaterThan(1e-4);
            }
            // the optimizer saw the adapter's parameters and nothing else
            Set<String> adapterIds = adapterBefore.keySet().stream().map(Parameter::getId).collect(Collectors.toSet());
            assertThat(optimizer.updated).containsExactlyInAnyOrderElementsOf(adapterIds);
        }
    }

    private static Map<Parameter, float[]> adapterValues(PeftModel peft) {
        Map<Parameter, float[]> out = new java.util.IdentityHashMap<>();
        for (Parameter p : ((AttachedAdapter) peft.adapter("default")).trainableParameterList()) {
            out.put(p, p.getArray().toFloatArray());
        }
        return out;
    }

    @Test
    void aModelLoadedFromDiskStaysFrozenWhenTheTrainerComesFromPeftModel(@TempDir Path dir) throws Exception {
        try (Model original = Model.newInstance("mlp")) {
            original.setBlock(TestBlocks.mlp(16, 1));
            original.getBlock().initialize(original.getNDManager(), DataType.FLOAT32, new Shape(1, FEATURES));
            original.save(dir, "mlp");
        }
        try (Model model = Model.newInstance("mlp")) {
            model.setBlock(TestBlocks.mlp(16, 1));
            model.load(dir, "mlp");
            PeftModel peft = Peft.apply(model.getBlock(), LoraConfig.builder().setTargetModules("0", "2").build());
            long adapterSize = peft.trainableParameters().trainable();
            assertThat(adapterSize).isEqualTo(8 * (FEATURES + 16) + 8 * (16 + 1));

            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss());
            // DJL's own newTrainer unfreezes everything of a loaded model ...
            try (Trainer trainer = model.newTrainer(config)) {
                assertThat(peft.trainableParameters().trainable()).isEqualTo(peft.trainableParameters().all());
            }
            // ... PeftModel.newTrainer freezes the base again
            try (Trainer trainer = peft.newTrainer(model, config)) {
                assertThat(peft.trainableParameters().trainable()).isEqualTo(adapterSize);
                for (Pair<String, Parameter> p : model.getBlock().getParameters()) {
                    assertThat(p.getValue().requiresGradient()).as(p.getKey()).isEqualTo(p.getKey().contains("lora_"));
                }
            }
        }
    }
}
