package org.peft4j.tribuo.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraInit;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.SparseVector;
import org.tribuo.math.la.Tensor;

/** The LoRA score and gradients on a linear model against the formula and finite differences. */
class LoraParametersTest {
    private static final int OUTPUTS = 3;
    private static final int FEATURES = 5;
    private static final int RANK = 2;
    private static final double SCALING = 1.5;

    private static DenseMatrix random(int rows, int columns, SplittableRandom random) {
        DenseMatrix m = new DenseMatrix(rows, columns);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                m.set(i, j, random.nextDouble() * 2 - 1);
            }
        }
        return m;
    }

    private static LoraParameters parameters(SplittableRandom random) {
        DenseMatrix base = random(OUTPUTS, FEATURES + 1, random);
        DenseVector bias = new DenseVector(OUTPUTS);
        for (int o = 0; o < OUTPUTS; o++) {
            bias.set(o, random.nextDouble());
        }
        return LoraParameters.of(base, SCALING, true, random(RANK, FEATURES, random), random(OUTPUTS, RANK, random), bias);
    }

    /** A sparse vector over features 1 and 3 plus Tribuo's bias entry (index FEATURES) = 1. */
    private static SGDVector x() {
        return SparseVector.createSparseVector(FEATURES + 1, new int[] {1, 3, FEATURES}, new double[] {0.7, -1.2, 1});
    }

    /** The score written out: W x + s B (A x) + bias change, over x's entries. */
    private static double[] formula(LoraParameters p, DenseMatrix base, double[] x) {
        double[] score = new double[OUTPUTS];
        for (int o = 0; o < OUTPUTS; o++) {
            double s = 0;
            for (int j = 0; j <= FEATURES; j++) {
                s += base.get(o, j) * x[j];
            }
            for (int k = 0; k < RANK; k++) {
                double ax = 0;
                for (int j = 0; j < FEATURES; j++) {
                    ax += p.a().get(k, j) * x[j];
                }
                s += SCALING * p.b().get(o, k) * ax;
            }
            score[o] = s + p.biasChange().get(o);
        }
        return score;
    }

    @Test
    void scoreAndMergedWeightsMatchTheFormula() {
        SplittableRandom random = new SplittableRandom(7);
        DenseMatrix base = random(OUTPUTS, FEATURES + 1, random);
        LoraParameters p = LoraParameters.of(base, SCALING, true, random(RANK, FEATURES, random),
                random(OUTPUTS, RANK, random), DenseVector.createDenseVector(new double[] {0.1, -0.2, 0.3}));
        double[] dense = new double[FEATURES + 1];
        dense[1] = 0.7;
        dense[3] = -1.2;
        dense[FEATURES] = 1;
        double[] expected = formula(p, base, dense);
        DenseVector score = p.predict(x());
        DenseVector merged = p.merged().leftMultiply(x());
        for (int o = 0; o < OUTPUTS; o++) {
            assertThat(score.get(o)).isCloseTo(expected[o], within(1e-12));
            assertThat(merged.get(o)).isCloseTo(expected[o], within(1e-12));
        }
    }

    /** Cross-entropy written out: log(sum exp(score)) - score[truth]. */
    private static double crossEntropy(LoraParameters p, int truth) {
        double[] score = p.predict(x()).toArray();
        double sum = 0;
        for (double s : score) {
            sum += Math.exp(s);
        }
        return Math.log(sum) - score[truth];
    }

    @Test
    void gradientsAreTheNegativeLossGradientByFiniteDifferences() {
        LoraParameters p = parameters(new SplittableRandom(11));
        int truth = 2;
        Pair<Double, SGDVector> lossAndGradient = new LogMulticlass().lossAndGradient(truth, p.predict(x()));
        Tensor[] gradients = p.gradients(lossAndGradient, x());
        double h = 1e-6;
        int checked = 0;
        for (int t = 0; t < 3; t++) {
            Tensor weights = p.get()[t];
            int rows = weights instanceof DenseMatrix ? ((DenseMatrix) weights).getDimension1Size() : 1;
            int columns = weights instanceof DenseMatrix ? ((DenseMatrix) weights).getDimension2Size()
                    : ((DenseVector) weights).size();
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < columns; j++) {
                    double old = get(weights, i, j);
                    set(weights, i, j, old + h);
                    double up = crossEntropy(p, truth);
                    set(weights, i, j, old - h);
                    double down = crossEntropy(p, truth);
                    set(weights, i, j, old);
                    assertThat(get(gradients[t], i, j)).as("tensor %d [%d, %d]", t, i, j)
                            .isCloseTo(-(up - down) / (2 * h), within(1e-6));
                    checked++;
                }
            }
        }
        assertThat(checked).isEqualTo(RANK * FEATURES + OUTPUTS * RANK + OUTPUTS);
    }

    private static double get(Tensor t, int i, int j) {
        return t instanceof DenseMatrix ? ((DenseMatrix) t).get(i, j) : ((DenseVector) t).get(j);
    }

    private static void set(Tensor t, int i, int j, double value) {
        if (t instanceof DenseMatrix) {
            ((DenseMatrix) t).set(i, j, value);
        } else {
            ((DenseVector) t).set(j, value);
        }
    }

    @Test
    void aFreshAdapterScoresAsTheBase() {
        SplittableRandom random = new SplittableRandom(3);
        DenseMatrix base = random(OUTPUTS, FEATURES + 1, random);
        for (LoraInit init : new LoraInit[] {LoraInit.KAIMING_UNIFORM, LoraInit.GAUSSIAN}) {
            LoraParameters p = LoraParameters.initial(base, RANK, SCALING, true, init, new SplittableRandom(1));
            assertThat(p.predict(x()).toArray()).containsExactly(base.leftMultiply(x()).toArray());
            assertThat(p.a().twoNorm()).isGreaterThan(0);
        }
        LoraParameters changed = LoraParameters.initial(base, RANK, SCALING, false, LoraInit.RANDOM, new SplittableRandom(1));
        assertThat(changed.predict(x()).toArray()).isNotEqualTo(base.leftMultiply(x()).toArray());
        assertThat(changed.get()).hasSize(2);
    }
}
