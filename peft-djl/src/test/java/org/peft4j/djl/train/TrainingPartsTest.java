package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import java.util.List;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/** The schedule, clipping and metrics against their formulas written out. */
class TrainingPartsTest {

    @Test
    void theScheduleWarmsUpThenDecaysAsHuggingFaceDoes() {
        LearningRateSchedule linear = new LearningRateSchedule(1e-3f, 10, 110, LearningRateSchedule.Kind.LINEAR);
        assertThat(linear.at(0)).isZero();
        assertThat(linear.at(5)).isCloseTo(5e-4f, Offset.offset(1e-9f));
        assertThat(linear.at(10)).isCloseTo(1e-3f, Offset.offset(1e-9f));
        assertThat(linear.at(60)).isCloseTo(1e-3f * 0.5f, Offset.offset(1e-9f));
        assertThat(linear.at(110)).isZero();
        assertThat(linear.getNewValue(1)).isEqualTo(linear.at(0));
        LearningRateSchedule cosine = new LearningRateSchedule(2f, 0, 100, LearningRateSchedule.Kind.COSINE);
        for (int step = 0; step <= 100; step += 25) {
            assertThat(cosine.at(step)).isCloseTo((float) (2 * 0.5 * (1 + Math.cos(Math.PI * step / 100.0))),
                    Offset.offset(1e-6f));
        }
        assertThat(new LearningRateSchedule(3f, 5, 50, LearningRateSchedule.Kind.CONSTANT).at(49)).isEqualTo(3f);
        assertThat(LearningRateSchedule.Kind.fromName("cosine")).isEqualTo(LearningRateSchedule.Kind.COSINE);
        assertThatThrownBy(() -> LearningRateSchedule.Kind.fromName("step")).hasMessageContaining("lr_scheduler_type");
        assertThatThrownBy(() -> new LearningRateSchedule(1f, 20, 10, LearningRateSchedule.Kind.LINEAR))
                .isInstanceOf(IllegalArgumentException.class);
    }

    private static Parameter parameter(NDManager manager, float... values) {
        Parameter p = Parameter.builder().setName("p").setType(Parameter.Type.WEIGHT).build();
        p.setArray(manager.create(values));
        p.getArray().setRequiresGradient(true);
        return p;
    }

    @Test
    void clippingScalesAllGradientsToTheGlobalNorm() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter a = parameter(manager, 1, 1);
            Parameter b = parameter(manager, 1);
            // loss = 3 a0 + 4 a1 + 12 b0: the gradients are (3, 4) and (12), global norm 13
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray loss = a.getArray().mul(manager.create(new float[] {3, 4})).sum()
                        .add(b.getArray().mul(12f).sum());
                collector.backward(loss);
            }
            assertThat(GradientClipping.globalNorm(List.of(a, b))).isCloseTo(13, Offset.offset(1e-5));
            Parameter frozen = parameter(manager, 5);
            frozen.getArray().setRequiresGradient(false);
            assertThat(GradientClipping.globalNorm(List.of(a, frozen))).isCloseTo(5, Offset.offset(1e-5));
            assertThat(GradientClipping.globalNorm(List.of(frozen))).isZero();
            assertThat(GradientClipping.coefficient(13, 6.5)).isEqualTo((float) (6.5 / (13 + 1e-6)));
            assertThat(GradientClipping.coefficient(13, 13)).isEqualTo(1f);
            assertThatThrownBy(() -> GradientClipping.coefficient(13, 0)).hasMessageContaining("max_grad_norm");
            double norm = GradientClipping.clipByGlobalNorm(List.of(a, b), 6.5);
            assertThat(norm).isCloseTo(13, Offset.offset(1e-5));
            assertThat(a.getArray().getGradient().toFloatArray()).containsExactly(new float[] {1.5f, 2f}, Offset.offset(1e-5f));
            assertThat(b.getArray().getGradient().toFloatArray()).containsExactly(new float[] {6f}, Offset.offset(1e-5f));
            // below the limit nothing changes
            assertThat(GradientClipping.clipByGlobalNorm(List.of(a, b), 100)).isCloseTo(6.5, Offset.offset(1e-4));
            assertThat(b.getArray().getGradient().toFloatArray()).containsExactly(new float[] {6f}, Offset.offset(1e-5f));
        }
    }

    @Test
    void metricsMatchTheConfusionMatrixByHand() {
        int[] truth = {0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
        int[] predicted = {0, 0, 0, 1, 1, 1, 1, 1, 0, 0};
        ClassificationMetrics m = ClassificationMetrics.of(predicted, truth, 2);
        assertThat(m.accuracy()).isEqualTo(0.7);
        // class 0: tp 3, fp 2, fn 1 -> F1 = 6 / 9; class 1: tp 4, fp 1, fn 2 -> F1 = 8 / 11
        assertThat(m.macroF1()).isCloseTo((6.0 / 9 + 8.0 / 11) / 2, Offset.offset(1e-12));
        assertThat(m.confusion()[1][0]).isEqualTo(2);
    }
}
