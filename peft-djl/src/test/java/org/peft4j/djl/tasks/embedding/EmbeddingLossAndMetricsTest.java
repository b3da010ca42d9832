package org.peft4j.djl.tasks.embedding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.engine.Engine;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** MultipleNegativesRankingLoss against its formula in doubles, and retrieval metrics on hand-made similarities. */
class EmbeddingLossAndMetricsTest {
    @Test
    void theLossIsTheCrossEntropyOfScaledCosinesWithTheOwnPositiveAsTarget() {
        int batch = 5;
        int hidden = 7;
        Random random = new Random(3);
        double[][] a = new double[batch][hidden];
        double[][] p = new double[batch][hidden];
        float[] af = new float[batch * hidden];
        float[] pf = new float[batch * hidden];
        for (int i = 0; i < batch; i++) {
            for (int h = 0; h < hidden; h++) {
                a[i][h] = random.nextGaussian();
                p[i][h] = random.nextGaussian() * 3; // norms differ: the cosine must not care
                af[i * hidden + h] = (float) a[i][h];
                pf[i * hidden + h] = (float) p[i][h];
            }
        }
        // loss = mean_i [ log sum_j exp(20 cos(a_i, p_j)) - 20 cos(a_i, p_i) ]
        double expected = 0;
        for (int i = 0; i < batch; i++) {
            double[] logits = new double[batch];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < batch; j++) {
                logits[j] = 20 * cosine(a[i], p[j]);
                max = Math.max(max, logits[j]);
            }
            double sum = 0;
            for (double l : logits) {
                sum += Math.exp(l - max);
            }
            expected += max + Math.log(sum) - logits[i];
        }
        expected /= batch;
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray anchors = manager.create(af, new Shape(batch, hidden));
            NDArray positives = manager.create(pf, new Shape(batch, hidden));
            MultipleNegativesRankingLoss loss = new MultipleNegativesRankingLoss();
            float actual = loss.evaluate(new NDList(), new NDList(anchors, positives)).getFloat();
            assertThat((double) actual).isCloseTo(expected, within(1e-5 * Math.max(1, Math.abs(expected))));

            // a positive that matches its anchor lowers the loss; autograd reaches the anchors
            anchors.setRequiresGradient(true);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.backward(loss.evaluate(anchors, positives));
            }
            assertThat(anchors.getGradient().abs().sum().getFloat()).isGreaterThan(0f);
            float matched = loss.evaluate(positives, positives).getFloat();
            assertThat(matched).isLessThan(actual);
        }
    }

    private static double cosine(double[] x, double[] y) {
        double dot = 0;
        double nx = 0;
        double ny = 0;
        for (int i = 0; i < x.length; i++) {
            dot += x[i] * y[i];
            nx += x[i] * x[i];
            ny += y[i] * y[i];
        }
        return dot / Math.sqrt(nx) / Math.sqrt(ny);
    }

    @Test
    void aScaleMustBePositive() {
        assertThatThrownBy(() -> new MultipleNegativesRankingLoss(0f)).hasMessageContaining("scale must be a positive");
        assertThatThrownBy(() -> new MultipleNegativesRankingLoss(Float.NaN)).hasMessageContaining("got NaN");
    }

    @Test
    void recallAndMrrCountTheRankOfEachQuerysOwnPassage() {
        float[][] similarity = new float[4][12];
        for (int d = 0; d < 12; d++) {
            similarity[0][d] = d == 5 ? 0.9f : 0.1f;       // own passage 5 first: rank 1
            similarity[1][d] = d;                           // own passage 9: 10 and 11 higher, rank 3
            similarity[2][d] = -d;                          // own passage 11: all 11 others higher, rank 12
            similarity[3][d] = d < 10 ? 0.5f : 0.2f;        // own passage 0 ties 9 others: rank 1 (ties count for it)
        }
        RetrievalMetrics m = RetrievalMetrics.of(similarity, new int[] {5, 9, 11, 0});
        assertThat(m.queries()).isEqualTo(4);
        assertThat(m.recallAt1()).isEqualTo(2 / 4.0);
        assertThat(m.recallAt10()).isEqualTo(3 / 4.0);
        assertThat(m.mrrAt10()).isCloseTo((1 + 1 / 3.0 + 0 + 1) / 4, within(1e-12));
        assertThat(m.named()).containsOnlyKeys("recall@1", "recall@10", "mrr@10");

        // rank 10 is in, rank 11 is out
        float[][] edge = new float[2][11];
        for (int d = 0; d < 11; d++) {
            edge[0][d] = d;
            edge[1][d] = d;
        }
        RetrievalMetrics cut = RetrievalMetrics.of(edge, new int[] {1, 0});
        assertThat(cut.recallAt10()).isEqualTo(0.5);
        assertThat(cut.mrrAt10()).isCloseTo(0.1 / 2, within(1e-12));
        assertThatThrownBy(() -> RetrievalMetrics.of(edge, new int[] {1, 11})).hasMessageContaining("query 1: passage 11");
    }
}
