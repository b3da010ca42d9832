package org.peft4j.tribuo.sgd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.TribuoPeft;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.fm.FMClassificationTrainer;
import org.tribuo.classification.sgd.linear.LinearSGDTrainer;
import org.tribuo.classification.sgd.objectives.Hinge;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.common.sgd.AbstractFMModel;
import org.tribuo.common.sgd.AbstractLinearSGDModel;
import org.tribuo.impl.ArrayExample;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.Tensor;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/**
 * The SGD loop that LoRA and warm start share: its steps against AdaGrad written out, and rows
 * laid out densely (every feature present) against the same rows laid out sparsely.
 */
class AdaptedSgdFitTest {
    private static final String[] NAMES = {"a", "b", "c"};
    private static final double LR = 0.1;
    private static final double EPSILON = 1e-6;

    /** Three classes, each brighter on one feature; every row has all three features. */
    private static Dataset<Label> rows(int n, long seed, double shift, boolean weighted) {
        SplittableRandom random = new SplittableRandom(seed);
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance("rows " + seed, factory),
                factory);
        for (int i = 0; i < n; i++) {
            int c = random.nextInt(3);
            double[] values = new double[3];
            for (int j = 0; j < 3; j++) {
                values[j] = (j == c ? 1 : 0) + random.nextGaussian() * 0.6 + shift * j;
            }
            ArrayExample<Label> example = new ArrayExample<>(new Label("k" + c), NAMES, values);
            example.setWeight(weighted ? (float) (0.5 + random.nextDouble()) : 1f);
            data.add(example);
        }
        return data;
    }

    /**
     * {@code data} with feature c set to 0 ({@code explicitZero}: kept as a feature of value 0, so
     * every row has every feature; otherwise left out, so the rows are sparse).
     */
    private static Dataset<Label> withoutC(Dataset<Label> data, boolean explicitZero) {
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> out = new MutableDataset<>(new SimpleDataSourceProvenance("c removed", factory), factory);
        for (var e : data) {
            List<String> names = new ArrayList<>();
            List<Double> values = new ArrayList<>();
            for (var f : e) {
                if (!f.getName().equals("c")) {
                    names.add(f.getName());
                    values.add(f.getValue());
                } else if (explicitZero) {
                    names.add("c");
                    values.add(0.0);
                }
            }
            out.add(new ArrayExample<>(e.getOutput(), names.toArray(new String[0]),
                    values.stream().mapToDouble(Double::doubleValue).toArray()));
        }
        return out;
    }

    /** The linear weights [outputs, features + 1] (bias last), rows in the order of {@code labels}. */
    private static double[][] weights(Model<Label> model, List<String> labels) {
        DenseMatrix w = ((AbstractLinearSGDModel<Label>) model).getWeightsCopy();
        double[][] rows = new double[labels.size()][];
        for (int o = 0; o < rows.length; o++) {
            rows[o] = w.getRow(model.getOutputIDInfo().getID(new Label(labels.get(o)))).toArray();
        }
        return rows;
    }

    /**
     * One full-batch warm start written out: every step averages the log-loss gradients of all rows
     * (softmax(Wx) against the one-hot truth, x with Tribuo's bias entry 1) and takes AdaGrad's step
     * with the mean example weight m: G += (m g)^2, W += g m lr / (eps + sqrt(G)).
     */
    @Test
    void aFullBatchWarmStartTakesAdaGradStepsOnTheMeanGradient() {
        Model<Label> base = new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(LR), 3, 1L).train(rows(200, 1, 0, false));
        Dataset<Label> data = rows(9, 2, 0.7, true);
        List<String> labels = List.of("k0", "k1", "k2");
        double[][] w = weights(base, labels);
        double[][] g2 = new double[3][4];
        int steps = 3;
        for (int step = 0; step < steps; step++) {
            double[][] grad = new double[3][4];
            double weight = 0;
            for (var e : data) {
                double[] x = new double[4];
                for (var f : e) {
                    x[List.of(NAMES).indexOf(f.getName())] = f.getValue();
                }
                x[3] = 1;
                double[] score = new double[3];
                double max = Double.NEGATIVE_INFINITY;
                for (int o = 0; o < 3; o++) {
                    for (int j = 0; j < 4; j++) {
                        score[o] += w[o][j] * x[j];
                    }
                    max = Math.max(max, score[o]);
                }
                double sum = 0;
                for (int o = 0; o < 3; o++) {
                    sum += Math.exp(score[o] - max);
                }
                int truth = labels.indexOf(e.getOutput().getLabel());
                for (int o = 0; o < 3; o++) {
                    double g = (o == truth ? 1 : 0) - Math.exp(score[o] - max) / sum;
                    for (int j = 0; j < 4; j++) {
                        grad[o][j] += g * x[j] / data.size();
                    }
                }
                weight += e.getWeight() / (double) data.size();
            }
            for (int o = 0; o < 3; o++) {
                for (int j = 0; j < 4; j++) {
                    g2[o][j] += weight * weight * grad[o][j] * grad[o][j];
                    w[o][j] += grad[o][j] * weight * LR / (EPSILON + Math.sqrt(g2[o][j]));
                }
            }
        }
        Model<Label> warm = TribuoPeft.warmStart(base).optimiser(new AdaGrad(LR, EPSILON)).minibatchSize(data.size())
                .epochs(steps).train(data);
        double[][] trained = weights(warm, labels);
        for (int o = 0; o < 3; o++) {
            for (int j = 0; j < 4; j++) {
                assertThat(trained[o][j]).as("W[%d][%d]", o, j).isCloseTo(w[o][j], within(1e-12));
            }
        }
        assertThat(trained[0][0]).isNotEqualTo(weights(base, labels)[0][0]);
    }

    /** Every weight the model holds, linear or factorization machine, in a fixed order. */
    private static List<Double> allWeights(Model<Label> model) {
        List<Double> all = new ArrayList<>();
        List<Tensor> tensors = new ArrayList<>();
        if (model instanceof AbstractFMModel<Label> fm) {
            tensors.add(fm.getLinearWeightsCopy());
            tensors.add(fm.getBiasesCopy());
            tensors.addAll(List.of(fm.getFactorsCopy()));
        } else {
            tensors.add(((AbstractLinearSGDModel<Label>) model).getWeightsCopy());
        }
        for (Tensor t : tensors) {
            if (t instanceof DenseMatrix m) {
                for (int i = 0; i < m.getDimension1Size(); i++) {
                    for (double v : m.getRow(i).toArray()) {
                        all.add(v);
                    }
                }
            } else {
                for (double v : ((org.tribuo.math.la.DenseVector) t).toArray()) {
                    all.add(v);
                }
            }
        }
        return all;
    }

    /**
     * A row that has every feature is laid out densely, one that lacks a feature sparsely; a
     * feature of value 0 and a missing feature are the same vector, so both train to the same
     * weights: bit for bit one example at a time, and up to the order in which a minibatch's
     * gradients are summed otherwise. Covers linear models and factorization machines, warm start
     * and LoRA, log-loss and hinge (whose sparse gradients Tribuo 4.3.2's own factorization-machine
     * merge cannot sum).
     */
    @Test
    void denseAndSparseLayoutsOfTheSameRowsTrainAlike() {
        Dataset<Label> a = rows(300, 3, 0, false);
        Dataset<Label> b = rows(40, 4, 0.5, false);
        Dataset<Label> dense = withoutC(b, true);
        Dataset<Label> sparse = withoutC(b, false);
        assertThat(dense.getExample(0).size()).isEqualTo(3);
        assertThat(sparse.getExample(0).size()).isEqualTo(2);
        Model<Label> linear = new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(LR), 2, 1L).train(a);
        Model<Label> fm = new FMClassificationTrainer(new LogMulticlass(), new AdaGrad(LR), 2, -1, 1, 1L, 2, 0.1).train(a);
        LoraConfig lora = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL).build();
        for (Model<Label> base : List.of(linear, fm)) {
            for (int minibatch : new int[] {1, 4}) {
                for (boolean hinge : new boolean[] {false, true}) {
                    List<Function<Dataset<Label>, Model<Label>>> trainers = List.of(
                            d -> TribuoPeft.warmStart(base).minibatchSize(minibatch).epochs(2)
                                    .objective(hinge ? new Hinge() : new LogMulticlass()).train(d),
                            d -> TribuoPeft.lora(base, lora).minibatchSize(minibatch).epochs(2)
                                    .objective(hinge ? new Hinge() : new LogMulticlass()).train(d));
                    for (var train : trainers) {
                        List<Double> fromDense = allWeights(train.apply(dense));
                        List<Double> fromSparse = allWeights(train.apply(sparse));
                        String what = base.getClass().getSimpleName() + ", minibatch " + minibatch + (hinge ? ", hinge" : "");
                        if (minibatch == 1) {
                            assertThat(fromDense).as(what).isEqualTo(fromSparse);
                        } else {
                            for (int i = 0; i < fromDense.size(); i++) {
                                assertThat(fromDense.get(i)).as(what).isCloseTo(fromSparse.get(i), within(1e-12));
                            }
                        }
                        assertThat(fromDense).as(what).isNotEqualTo(allWeights(base));
                    }
                }
            }
        }
    }
}
