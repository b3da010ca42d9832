package org.peft4j.tribuo.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.tribuo.sgd.AdaptedSgdTrainer;
import org.peft4j.tribuo.sgd.AlignedDomain;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Feature;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.linear.LinearSGDTrainer;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.impl.ArrayExample;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.Tensor;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.math.protos.ParametersProto;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/**
 * LoRA trained by the shared SGD loop against LoRA's full-batch AdaGrad steps written out, both
 * when the loop stores every row's base score (rows with more entries than outputs) and when it
 * recomputes them (more outputs than entries), counting the base model's scorings.
 */
class LoraFitTest {
    private static final String[] NAMES = {"a", "b", "c"};
    private static final double LR = 0.1;
    private static final double EPSILON = 1e-6;
    private static final double SCALING = 1.5;
    private static final int RANK = 2;
    private static final int STEPS = 3;

    /** Calls the protected loop of {@link AdaptedSgdTrainer} on parameters the test builds. */
    private static final class Harness extends AdaptedSgdTrainer<Label, Harness> {
        Harness(Model<Label> base) {
            super(base);
            postConfig();
        }

        AlignedDomain<Label> domain(Dataset<Label> data) {
            return align(data);
        }

        FeedForwardParameters baseScore(AlignedDomain<Label> domain) {
            return family.parameters(domain.baseWeights());
        }

        void run(FeedForwardParameters parameters, AlignedDomain<Label> domain, Dataset<Label> data) {
            fit(parameters, domain, data, new SplittableRandom(1));
        }

        @Override
        public Model<Label> train(Dataset<Label> data, Map<String, Provenance> runProvenance) {
            throw new UnsupportedOperationException("a test harness");
        }
    }

    /** Scores with the base and counts how often. */
    private static final class CountingScore implements FeedForwardParameters {
        private final FeedForwardParameters base;
        int predictions;

        CountingScore(FeedForwardParameters base) {
            this.base = base;
        }

        @Override
        public DenseVector predict(SGDVector example) {
            predictions++;
            return base.predict(example);
        }

        @Override
        public Tensor[] gradients(Pair<Double, SGDVector> score, SGDVector features) {
            throw new UnsupportedOperationException();
        }

        @Override
        public FeedForwardParameters copy() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Tensor[] getEmptyCopy() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Tensor[] get() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void set(Tensor[] newWeights) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void update(Tensor[] gradients) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Tensor[] merge(Tensor[][] gradients, int size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public ParametersProto serialize() {
            throw new UnsupportedOperationException();
        }
    }

    /** {@code classes} classes; each row has {@code featuresPerRow} of the three features. */
    private static Dataset<Label> rows(int n, int classes, int featuresPerRow, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance("rows " + seed, factory),
                factory);
        for (int i = 0; i < n; i++) {
            int c = random.nextInt(classes);
            String[] names = new String[featuresPerRow];
            double[] values = new double[featuresPerRow];
            int first = featuresPerRow == NAMES.length ? 0 : c % NAMES.length;
            for (int j = 0; j < featuresPerRow; j++) {
                names[j] = NAMES[first + j];
                values[j] = (c % NAMES.length == first + j ? 1 : 0) + c * 0.2 + random.nextGaussian() * 0.5;
            }
            data.add(new ArrayExample<>(new Label("k" + c), names, values));
        }
        return data;
    }

    private static DenseMatrix random(int rows, int columns, SplittableRandom random) {
        DenseMatrix m = new DenseMatrix(rows, columns);
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < columns; j++) {
                m.set(i, j, random.nextDouble() - 0.5);
            }
        }
        return m;
    }

    private static double[][] array(DenseMatrix m) {
        double[][] a = new double[m.getDimension1Size()][];
        for (int i = 0; i < a.length; i++) {
            a[i] = m.getRow(i).toArray();
        }
        return a;
    }

    /** G += g^2, p += g lr / (eps + sqrt(G)): AdaGrad's step with example weight 1. */
    private static void adaGrad(double[] p, double[] g, double[] g2) {
        for (int i = 0; i < p.length; i++) {
            g2[i] += g[i] * g[i];
            p[i] += g[i] * LR / (EPSILON + Math.sqrt(g2[i]));
        }
    }

    private static void check(int classes, int featuresPerRow, boolean stored) {
        Dataset<Label> a = rows(300, classes, featuresPerRow, 1);
        Dataset<Label> data = rows(12, classes, featuresPerRow, 2);
        Model<Label> base = new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(LR), 2, 1L).train(a);
        Harness harness = new Harness(base).optimiser(new AdaGrad(LR, EPSILON)).minibatchSize(data.size()).epochs(STEPS);
        AlignedDomain<Label> domain = harness.domain(data);
        int outputs = domain.outputs().size();
        SplittableRandom random = new SplittableRandom(3);
        DenseMatrix a0 = random(RANK, NAMES.length, random);
        DenseMatrix b0 = random(outputs, RANK, random);
        DenseVector bias0 = DenseVector.createDenseVector(random(1, outputs, random).getRow(0).toArray());
        CountingScore baseScore = new CountingScore(harness.baseScore(domain));
        LoraParameters p = LoraParameters.of(domain.baseWeights(), baseScore, SCALING, true, new DenseMatrix(a0),
                new DenseMatrix(b0), bias0.copy());

        double[][] w = array(domain.baseWeights().linear());
        double[] b = domain.baseWeights().bias().toArray();
        double[][] aa = array(a0);
        double[][] bb = array(b0);
        double[] db = bias0.toArray();
        double[][] g2a = new double[RANK][NAMES.length];
        double[][] g2b = new double[outputs][RANK];
        double[] g2db = new double[outputs];
        for (int step = 0; step < STEPS; step++) {
            double[][] ga = new double[RANK][NAMES.length];
            double[][] gb = new double[outputs][RANK];
            double[] gdb = new double[outputs];
            for (Example<Label> e : data) {
                double[] x = new double[NAMES.length];
                for (Feature f : e) {
                    x[domain.features().getID(f.getName())] = f.getValue();
                }
                double[] u = new double[RANK];
                for (int k = 0; k < RANK; k++) {
                    for (int j = 0; j < x.length; j++) {
                        u[k] += aa[k][j] * x[j];
                    }
                }
                double[] score = new double[outputs];
                double max = Double.NEGATIVE_INFINITY;
                for (int o = 0; o < outputs; o++) {
                    score[o] = b[o] + db[o];
                    for (int j = 0; j < x.length; j++) {
                        score[o] += w[o][j] * x[j];
                    }
                    for (int k = 0; k < RANK; k++) {
                        score[o] += SCALING * bb[o][k] * u[k];
                    }
                    max = Math.max(max, score[o]);
                }
                double sum = 0;
                for (double s : score) {
                    sum += Math.exp(s - max);
                }
                int truth = domain.outputs().getID(e.getOutput());
                double[] v = new double[RANK];
                for (int o = 0; o < outputs; o++) {
                    double g = ((o == truth ? 1 : 0) - Math.exp(score[o] - max) / sum) / data.size();
                    gdb[o] += g;
                    for (int k = 0; k < RANK; k++) {
                        gb[o][k] += SCALING * g * u[k];
                        v[k] += bb[o][k] * g;
                    }
                }
                for (int k = 0; k < RANK; k++) {
                    for (int j = 0; j < x.length; j++) {
                        ga[k][j] += SCALING * v[k] * x[j];
                    }
                }
            }
            for (int k = 0; k < RANK; k++) {
                adaGrad(aa[k], ga[k], g2a[k]);
            }
            for (int o = 0; o < outputs; o++) {
                adaGrad(bb[o], gb[o], g2b[o]);
            }
            adaGrad(db, gdb, g2db);
        }

        harness.run(p, domain, data);
        String what = classes + " classes, " + featuresPerRow + " features per row";
        for (int k = 0; k < RANK; k++) {
            for (int j = 0; j < NAMES.length; j++) {
                assertThat(p.a().get(k, j)).as("%s: A[%d][%d]", what, k, j).isCloseTo(aa[k][j], within(1e-12));
            }
        }
        for (int o = 0; o < outputs; o++) {
            assertThat(p.biasChange().get(o)).as("%s: bias[%d]", what, o).isCloseTo(db[o], within(1e-12));
            for (int k = 0; k < RANK; k++) {
                assertThat(p.b().get(o, k)).as("%s: B[%d][%d]", what, o, k).isCloseTo(bb[o][k], within(1e-12));
            }
        }
        assertThat(p.a().get(0, 0)).isNotEqualTo(a0.get(0, 0));
        assertThat(baseScore.predictions).as(what + ": base scorings").isEqualTo(stored ? data.size()
                : data.size() * STEPS);
    }

    @Test
    void denseRowsScoreTheBaseOnceAndStepAsLoraWrittenOut() {
        // 3 features + Tribuo's bias entry per row, 2 outputs: the base scores are stored
        check(2, 3, true);
    }

    @Test
    void rowsWithFewerEntriesThanOutputsRescoreTheBaseEveryStepToTheSameEffect() {
        // 1 feature + the bias entry per row, 6 outputs: storing the scores would outweigh the rows
        check(6, 1, false);
    }
}
