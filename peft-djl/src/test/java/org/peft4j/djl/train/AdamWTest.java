package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * {@link AdamW} against DJL's own {@code Optimizer.adamW()}, the step {@link TextTraining} took
 * before: the same weights after 100 updates, on a small model trained end to end and on large
 * arrays that are updated in pieces.
 */
class AdamWTest {
    private static final int UPDATES = 100;
    private static final float MAX_NORM = 1f;

    /** The schedule both runs share: a warm-up whose first rate is 0, then a linear decay. */
    private static LearningRateSchedule schedule(float peak) {
        return new LearningRateSchedule(peak, 10, UPDATES, LearningRateSchedule.Kind.LINEAR);
    }

    @Test
    void fullFineTuningEndsWithTheWeightsOfDjlsAdamW() throws Exception {
        List<LabeledText> rows = TinyClassifier.sample(8 * 5);
        try (BertTokenizer tokenizer = TinyClassifier.tokenizer(); Model reference = Model.newInstance("djl");
                Model tested = Model.newInstance("peft4j")) {
            BertSequenceClassifier referenceBlock = TinyClassifier.create(reference, 0f);
            BertSequenceClassifier testedBlock = TinyClassifier.create(tested, 0f);
            List<Parameter> referenceParameters = parameters(referenceBlock);
            List<Parameter> testedParameters = parameters(testedBlock);
            for (int i = 0; i < referenceParameters.size(); i++) {
                testedParameters.get(i).getArray().set(referenceParameters.get(i).getArray().toByteBuffer());
            }
            List<float[]> initial = values(testedParameters);
            int clipped = 0;
            DefaultTrainingConfig djl = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()).optOptimizer(
                    Optimizer.adamW().optLearningRateTracker(schedule(1e-2f)).optWeightDecays(0.01f).build());
            try (Trainer referenceTrainer = reference.newTrainer(djl);
                    Trainer testedTrainer = tested.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss()));
                    AdamW adamW = AdamW.builder().optLearningRateTracker(schedule(1e-2f)).optWeightDecay(0.01f).build()) {
                for (int update = 0; update < UPDATES; update++) {
                    List<LabeledText> batch = rows.subList(8 * (update % 5), 8 * (update % 5) + 8);
                    backward(referenceTrainer, tokenizer, batch);
                    double norm = GradientClipping.clipByGlobalNorm(referenceParameters, MAX_NORM);
                    referenceTrainer.step();
                    backward(testedTrainer, tokenizer, batch);
                    adamW.step(testedParameters, GradientClipping.coefficient(GradientClipping.globalNorm(testedParameters),
                            MAX_NORM));
                    clipped += norm > MAX_NORM ? 1 : 0;
                }
            }
            // both branches of clipping ran, the weights moved, and they moved alike
            assertThat(clipped).isBetween(1, UPDATES - 1);
            assertThat(maxDifference(values(testedParameters), initial)).isGreaterThan(1e-2);
            assertThat(maxDifference(values(testedParameters), values(referenceParameters))).isLessThanOrEqualTo(1e-6);
            for (Parameter p : testedParameters) {
                assertThat(p.getArray().getGradient().abs().max().getFloat()).isZero();
            }
        }
    }

    @Test
    void largeArraysUpdatedInPiecesMatchDjlsAdamWWithAndWithoutClippingAndAtTheirOwnRates() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            // two pieces of 682 rows and a last one of 36; a vector in pieces of 262,144 values and 37,857; a scalar
            Shape[] shapes = {new Shape(1400, 384), new Shape(300_001), new Shape(7), new Shape()};
            List<Parameter> tested = new ArrayList<>();
            List<NDArray> reference = new ArrayList<>();
            for (int i = 0; i < shapes.length; i++) {
                NDArray w = manager.randomNormal(0, 1f, shapes[i], DataType.FLOAT32);
                reference.add(w.duplicate());
                Parameter p = Parameter.builder().setName("p" + i).setType(Parameter.Type.WEIGHT).build();
                p.setArray(w);
                w.setRequiresGradient(true);
                tested.add(p);
            }
            float tripled = 3f;
            Optimizer djl = Optimizer.adamW().optLearningRateTracker(schedule(1e-3f)).optWeightDecays(0.05f).build();
            Optimizer djlTripled = Optimizer.adamW().optLearningRateTracker((Tracker) n -> tripled * schedule(1e-3f).getNewValue(n))
                    .optWeightDecays(0.05f).build();
            try (AdamW adamW = AdamW.builder().optLearningRateTracker(schedule(1e-3f)).optWeightDecay(0.05f)
                    .optLearningRateMultipliers(Map.of(tested.get(1), tripled)).build()) {
                for (int update = 0; update < UPDATES; update++) {
                    float scale = update % 3 == 0 ? 0.25f : 1f;
                    try (NDManager step = manager.newSubManager()) {
                        NDList gradients = new NDList();
                        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                            NDArray loss = null;
                            for (int i = 0; i < shapes.length; i++) {
                                NDArray g = step.randomNormal(0, 0.1f, shapes[i], DataType.FLOAT32);
                                if (i == 0) {
                                    // nine rows in ten without a gradient, as in a word-embedding table
                                    g = g.mul(step.randomUniform(0, 1, new Shape(1400, 1)).lt(0.1f));
                                }
                                gradients.add(g);
                                NDArray product = tested.get(i).getArray().mul(g);
                                product.attach(step);
                                NDArray term = product.sum();
                                loss = loss == null ? term : loss.add(term);
                            }
                            collector.backward(loss); // the gradients are exactly g
                        }
                        adamW.step(tested, scale);
                        for (int i = 0; i < shapes.length; i++) {
                            (i == 1 ? djlTripled : djl).update("p" + i, reference.get(i), gradients.get(i).mul(scale));
                        }
                    }
                }
            }
            for (int i = 0; i < shapes.length; i++) {
                float[] expected = reference.get(i).toFloatArray();
                float[] actual = tested.get(i).getArray().toFloatArray();
                assertThat(maxDifference(List.of(actual), List.of(expected))).as("array %d", i).isLessThanOrEqualTo(1e-6);
            }
        }
    }

    @Test
    void buildersNameTheValueOutOfRange() {
        assertThatThrownBy(() -> AdamW.builder().optBeta1(1f).build()).hasMessageContaining("beta1");
        assertThatThrownBy(() -> AdamW.builder().optBeta2(-0.1f).build()).hasMessageContaining("beta2");
        assertThatThrownBy(() -> AdamW.builder().optEpsilon(0f).build()).hasMessageContaining("epsilon");
        assertThatThrownBy(() -> AdamW.builder().optWeightDecay(Float.NaN).build()).hasMessageContaining("weight_decay");
        Parameter p = Parameter.builder().setName("lora_B").setType(Parameter.Type.WEIGHT).build();
        assertThatThrownBy(() -> AdamW.builder().optLearningRateMultipliers(Map.of(p, -1f)).build())
                .hasMessageContaining("lora_B");
        try (AdamW adamW = AdamW.builder().optLearningRateTracker(Tracker.fixed(Float.NaN)).build();
                NDManager manager = NDManager.newBaseManager()) {
            Parameter w = Parameter.builder().setName("w").setType(Parameter.Type.WEIGHT).build();
            w.setArray(manager.ones(new Shape(2)));
            w.getArray().setRequiresGradient(true);
            assertThatThrownBy(() -> adamW.step(List.of(w), 1f)).hasMessageContaining("learning rate of update 1");
            assertThatThrownBy(() -> adamW.step(List.of(w), Float.POSITIVE_INFINITY)).hasMessageContaining("gradient scale");
        }
    }

    /** Forward and backward of one batch through {@code trainer}'s model. */
    private static void backward(Trainer trainer, BertTokenizer tokenizer, List<LabeledText> batch) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
            List<String> texts = new ArrayList<>();
            float[] labels = new float[batch.size()];
            for (int i = 0; i < batch.size(); i++) {
                texts.add(batch.get(i).text());
                labels[i] = batch.get(i).label().equals("spam") ? 1 : 0;
            }
            NDList target = new NDList(scope.create(labels));
            try (GradientCollector collector = trainer.newGradientCollector()) {
                collector.backward(trainer.getLoss().evaluate(target, trainer.forward(tokenizer.encode(scope, texts))));
            }
        }
    }

    /** The clipping TextTraining did before AdamW: sums of squares, then every gradient scaled in place. */
    private static double clipAsBefore(List<Parameter> parameters) {
        double sum = 0;
        for (Parameter p : parameters) {
            try (NDArray g = p.getArray().getGradient(); NDArray squares = g.square(); NDArray s = squares.sum()) {
                sum += s.getFloat();
            }
        }
        double norm = Math.sqrt(sum);
        if (norm > MAX_NORM) {
            for (Parameter p : parameters) {
                try (NDArray g = p.getArray().getGradient()) {
                    g.muli((float) (MAX_NORM / (norm + 1e-6)));
                }
            }
        }
        return norm;
    }

    private static List<Parameter> parameters(BertSequenceClassifier block) {
        List<Parameter> out = new ArrayList<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            out.add(p.getValue());
        }
        return out;
    }

    private static List<float[]> values(List<Parameter> parameters) {
        List<float[]> out = new ArrayList<>();
        parameters.forEach(p -> out.add(p.getArray().toFloatArray()));
        return out;
    }

    private static double maxDifference(List<float[]> a, List<float[]> b) {
        double max = 0;
        for (int i = 0; i < a.size(); i++) {
            for (int j = 0; j < a.get(i).length; j++) {
                max = Math.max(max, Math.abs((double) a.get(i)[j] - b.get(i)[j]));
            }
        }
        return max;
    }
}
