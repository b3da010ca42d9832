package org.peft4j.tribuo.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.tribuo.sgd.SgdModelFamily;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.common.sgd.FMParameters;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.LinearParameters;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.SparseVector;
import org.tribuo.math.la.Tensor;

/** The LoRA score and gradients on linear and factorization-machine bases, against the formula and finite differences. */
class LoraParametersTest {
    private static final int OUTPUTS = 3;
    private static final int FEATURES = 5;
    private static final int FACTORS = 2;
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

    private static SgdModelFamily.Weights weights(SplittableRandom random, boolean fm) {
        DenseMatrix[] factors = new DenseMatrix[fm ? OUTPUTS : 0];
        for (int o = 0; o < factors.length; o++) {
            factors[o] = random(FACTORS, FEATURES, random);
        }
        DenseVector bias = new DenseVector(OUTPUTS);
        for (int o = 0; o < OUTPUTS; o++) {
            bias.set(o, random.nextDouble());
        }
        return new SgdModelFamily.Weights(random(OUTPUTS, FEATURES, random), bias, factors);
    }

    /** Tribuo's own parameters for the base: [W | b] for a linear model, FMParameters for a machine. */
    private static FeedForwardParameters tribuo(SgdModelFamily.Weights w) {
        if (w.factors().length == 0) {
            DenseMatrix wb = new DenseMatrix(OUTPUTS, FEATURES + 1);
            for (int o = 0; o < OUTPUTS; o++) {
                for (int j = 0; j < FEATURES; j++) {
                    wb.set(o, j, w.linear().get(o, j));
                }
                wb.set(o, FEATURES, w.bias().get(o));
            }
            return new LinearParameters(wb);
        }
        FMParameters fm = new FMParameters(new SplittableRandom(0), FEATURES, OUTPUTS, FACTORS, 1.0);
        Tensor[] tensors = new Tensor[2 + OUTPUTS];
        tensors[0] = w.bias();
        tensors[1] = w.linear();
        System.arraycopy(w.factors(), 0, tensors, 2, OUTPUTS);
        fm.set(tensors);
        return fm;
    }

    private static LoraParameters parameters(SplittableRandom random, boolean fm) {
        SgdModelFamily.Weights base = weights(random, fm);
        DenseVector biasChange = new DenseVector(OUTPUTS);
        for (int o = 0; o < OUTPUTS; o++) {
            biasChange.set(o, random.nextDouble() - 0.5);
        }
        return LoraParameters.of(base, tribuo(base), SCALING, true, random(RANK, FEATURES, random),
                random(OUTPUTS, RANK, random), biasChange);
    }

    private static final double[] X = {0, 0.7, 0, -1.2, 0.4};

    /** x over features 1, 3 and 4; a linear model's vectors also carry Tribuo's bias entry 1. */
    private static SGDVector x(boolean fm) {
        return fm ? SparseVector.createSparseVector(FEATURES, new int[] {1, 3, 4}, new double[] {0.7, -1.2, 0.4})
                : SparseVector.createSparseVector(FEATURES + 1, new int[] {1, 3, 4, FEATURES},
                        new double[] {0.7, -1.2, 0.4, 1});
    }

    /**
     * The score written out: W x + b + s B (A x) + Δb, plus for a machine the pairwise terms
     * sum over i < j of (v_i . v_j) x_i x_j with v_i the factor column of feature i.
     */
    private static double[] formula(LoraParameters p, SgdModelFamily.Weights base) {
        double[] score = new double[OUTPUTS];
        for (int o = 0; o < OUTPUTS; o++) {
            double s = base.bias().get(o) + p.biasChange().get(o);
            for (int j = 0; j < FEATURES; j++) {
                s += base.linear().get(o, j) * X[j];
            }
            for (int k = 0; k < RANK; k++) {
                double ax = 0;
                for (int j = 0; j < FEATURES; j++) {
                    ax += p.a().get(k, j) * X[j];
                }
                s += SCALING * p.b().get(o, k) * ax;
            }
            for (int i = 0; i < FEATURES && base.factors().length > 0; i++) {
                for (int j = i + 1; j < FEATURES; j++) {
                    double dot = 0;
                    for (int f = 0; f < FACTORS; f++) {
                        dot += base.factors()[o].get(f, i) * base.factors()[o].get(f, j);
                    }
                    s += dot * X[i] * X[j];
                }
            }
            score[o] = s;
        }
        return score;
    }

    @Test
    void scoreAndMergedWeightsMatchTheFormula() {
        for (boolean fm : new boolean[] {false, true}) {
            SplittableRandom random = new SplittableRandom(7);
            LoraParameters p = parameters(random, fm);
            SgdModelFamily.Weights base = weights(new SplittableRandom(7), fm);
            double[] expected = formula(p, base);
            DenseVector score = p.predict(x(fm));
            DenseVector merged = tribuo(p.merged()).predict(x(fm));
            for (int o = 0; o < OUTPUTS; o++) {
                assertThat(score.get(o)).as("fm=%s output %d", fm, o).isCloseTo(expected[o], within(1e-12));
                assertThat(merged.get(o)).as("merged, fm=%s output %d", fm, o).isCloseTo(expected[o], within(1e-12));
            }
        }
    }

    /** Cross-entropy written out: log(sum exp(score)) - score[truth]. */
    private static double crossEntropy(LoraParameters p, int truth, boolean fm) {
        double[] score = p.predict(x(fm)).toArray();
        double sum = 0;
        for (double s : score) {
            sum += Math.exp(s);
        }
        return Math.log(sum) - score[truth];
    }

    @Test
    void gradientsAreTheNegativeLossGradientByFiniteDifferences() {
        for (boolean fm : new boolean[] {false, true}) {
            LoraParameters p = parameters(new SplittableRandom(11), fm);
            int truth = 2;
            Pair<Double, SGDVector> lossAndGradient = new LogMulticlass().lossAndGradient(truth, p.predict(x(fm)));
            Tensor[] gradients = p.gradients(lossAndGradient, x(fm));
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
                        double up = crossEntropy(p, truth, fm);
                        set(weights, i, j, old - h);
                        double down = crossEntropy(p, truth, fm);
                        set(weights, i, j, old);
                        assertThat(get(gradients[t], i, j)).as("fm=%s tensor %d [%d, %d]", fm, t, i, j)
                                .isCloseTo(-(up - down) / (2 * h), within(1e-6));
                        checked++;
                    }
                }
            }
            assertThat(checked).isEqualTo(RANK * FEATURES + OUTPUTS * RANK + OUTPUTS);
        }
    }

    /** x with every entry present: as a dense vector and as a sparse vector listing each index. */
    private static SGDVector full(boolean fm, boolean dense) {
        double[] values = fm ? X.clone() : java.util.Arrays.copyOf(X, FEATURES + 1);
        if (!fm) {
            values[FEATURES] = 1;
        }
        int[] indices = java.util.stream.IntStream.range(0, values.length).toArray();
        return dense ? DenseVector.createDenseVector(values) : SparseVector.createSparseVector(values.length, indices, values);
    }

    /**
     * The training step's single call (score from the stored base score, loss, gradients) gives
     * bit for bit what predict followed by gradients gives, for dense and sparse x alike.
     */
    @Test
    void theOneCallStepEqualsPredictThenGradientsBitForBit() {
        for (boolean fm : new boolean[] {false, true}) {
            SgdModelFamily.Weights base = weights(new SplittableRandom(5), fm);
            LoraParameters p = parameters(new SplittableRandom(5), fm);
            int truth = 1;
            Tensor[] expected = p.gradients(new LogMulticlass().lossAndGradient(truth, p.predict(x(fm))), x(fm));
            for (SGDVector x : new SGDVector[] {x(fm), full(fm, true), full(fm, false)}) {
                assertThat(p.frozenScore(x).toArray()).containsExactly(tribuo(base).predict(x).toArray());
                double[][] seen = new double[1][];
                Tensor[] oneCall = p.gradients(x, p.frozenScore(x), score -> {
                    seen[0] = score.toArray();
                    return new LogMulticlass().lossAndGradient(truth, score);
                }, null);
                assertThat(seen[0]).as("fm=%s %s", fm, x.getClass().getSimpleName())
                        .containsExactly(p.predict(x).toArray());
                for (int t = 0; t < expected.length; t++) {
                    assertThat(oneCall[t]).as("fm=%s %s tensor %d", fm, x.getClass().getSimpleName(), t)
                            .isEqualTo(expected[t]);
                }
            }
        }
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
        SgdModelFamily.Weights base = weights(new SplittableRandom(3), false);
        for (LoraInit init : new LoraInit[] {LoraInit.KAIMING_UNIFORM, LoraInit.GAUSSIAN}) {
            LoraParameters p = LoraParameters.initial(base, tribuo(base), RANK, SCALING, true, init,
                    new SplittableRandom(1));
            assertThat(p.predict(x(false)).toArray()).containsExactly(tribuo(base).predict(x(false)).toArray());
            assertThat(p.a().twoNorm()).isGreaterThan(0);
        }
        LoraParameters changed = LoraParameters.initial(base, tribuo(base), RANK, SCALING, false, LoraInit.RANDOM,
                new SplittableRandom(1));
        assertThat(changed.predict(x(false)).toArray()).isNotEqualTo(tribuo(base).predict(x(false)).toArray());
        assertThat(changed.get()).hasSize(2);
    }
}
