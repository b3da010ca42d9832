package org.peft4j.tribuo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.lora.LoraSgdModel;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.evaluation.LabelEvaluator;
import org.tribuo.classification.example.GaussianLabelDataSource;
import org.tribuo.classification.example.NoisyInterlockingCrescentsDataSource;
import org.tribuo.classification.sgd.fm.FMClassificationModel;
import org.tribuo.classification.sgd.fm.FMClassificationTrainer;
import org.tribuo.classification.sgd.linear.LinearSGDTrainer;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.impl.ArrayExample;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import org.tribuo.regression.Regressor;
import org.tribuo.regression.evaluation.RegressionEvaluator;
import org.tribuo.regression.example.GaussianDataSource;
import org.tribuo.regression.sgd.objectives.SquaredLoss;

/**
 * A base trained on domain A, adapted on a small sample of a shifted domain B: better on B than the
 * base, close to a full warm start, with far fewer trainable parameters, and the base unchanged.
 */
class DomainShiftTest {
    private static final double[] IDENTITY = {1, 0, 0, 1};

    static Dataset<Label> gaussians(int n, long seed, double shift) {
        return new MutableDataset<>(new GaussianLabelDataSource(n, seed, new double[] {-1 + shift, -1 + shift}, IDENTITY,
                new double[] {1 + shift, 1 + shift}, IDENTITY));
    }

    static Model<Label> trainBase(Dataset<Label> data) {
        return new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(0.1), 5, 1L).train(data);
    }

    static double accuracy(Model<Label> model, Dataset<Label> data) {
        return new LabelEvaluator().evaluate(model, data).accuracy();
    }

    @Test
    void gaussianLabelsShiftedAcrossTheBoundary() {
        Model<Label> base = trainBase(gaussians(2000, 1, 0));
        byte[] baseBefore = base.serialize().toByteArray();
        Dataset<Label> sampleB = gaussians(100, 2, 1.5);
        Dataset<Label> testB = gaussians(2000, 3, 1.5);
        LoraConfig cfg = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetAllLinear().optBias(LoraBias.ALL).build();
        Model<Label> lora = TribuoPeft.lora(base, cfg).epochs(10).train(sampleB);
        Model<Label> warm = TribuoPeft.warmStart(base).epochs(10).train(sampleB);
        double baseAcc = accuracy(base, testB);
        double loraAcc = accuracy(lora, testB);
        double warmAcc = accuracy(warm, testB);
        System.out.printf("gaussian shift: base %.4f, LoRA %.4f, warm start %.4f on B%n", baseAcc, loraAcc, warmAcc);
        assertThat(loraAcc).isGreaterThan(baseAcc + 0.05);
        assertThat(loraAcc).isGreaterThan(warmAcc - 0.02);
        assertThat(lora).isInstanceOf(org.tribuo.classification.sgd.linear.LinearSGDModel.class);
        assertThat(base.serialize().toByteArray()).isEqualTo(baseBefore);
    }

    @Test
    void regressionLineShifted() {
        Dataset<Regressor> a = new MutableDataset<>(new GaussianDataSource(2000, 1f, 0f, 0.1f, -2f, 2f, 1));
        Dataset<Regressor> sampleB = new MutableDataset<>(new GaussianDataSource(60, 1.6f, 1.5f, 0.1f, -2f, 2f, 2));
        Dataset<Regressor> testB = new MutableDataset<>(new GaussianDataSource(2000, 1.6f, 1.5f, 0.1f, -2f, 2f, 3));
        Model<Regressor> base = new org.tribuo.regression.sgd.linear.LinearSGDTrainer(new SquaredLoss(), new AdaGrad(0.1),
                10, 1L).train(a);
        byte[] baseBefore = base.serialize().toByteArray();
        LoraConfig cfg = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetAllLinear().optBias(LoraBias.ALL).build();
        Model<Regressor> lora = TribuoPeft.lora(base, cfg).epochs(20).train(sampleB);
        Model<Regressor> warm = TribuoPeft.warmStart(base).epochs(20).train(sampleB);
        RegressionEvaluator evaluator = new RegressionEvaluator();
        double baseRmse = evaluator.evaluate(base, testB).averageRMSE();
        double loraRmse = evaluator.evaluate(lora, testB).averageRMSE();
        double warmRmse = evaluator.evaluate(warm, testB).averageRMSE();
        System.out.printf("regression shift: RMSE base %.4f, LoRA %.4f, warm start %.4f on B%n", baseRmse, loraRmse,
                warmRmse);
        assertThat(loraRmse).isLessThan(baseRmse * 0.5);
        assertThat(loraRmse).isLessThan(warmRmse * 1.2);
        assertThat(base.serialize().toByteArray()).isEqualTo(baseBefore);
    }

    /** Tribuo's noisy crescents, moved by (1, -0.5) in domain B, under a factorization machine. */
    @Test
    void crescentsMovedUnderAFactorizationMachine() throws Exception {
        Dataset<Label> a = new MutableDataset<>(new NoisyInterlockingCrescentsDataSource(2000, 1, 0.1));
        Dataset<Label> sampleB = moved(new NoisyInterlockingCrescentsDataSource(150, 2, 0.1));
        Dataset<Label> testB = moved(new NoisyInterlockingCrescentsDataSource(2000, 3, 0.1));
        Model<Label> base = new FMClassificationTrainer(new LogMulticlass(), new AdaGrad(0.1), 20, 1000, 1, 1L, 4, 0.1)
                .train(a);
        byte[] baseBefore = base.serialize().toByteArray();
        LoraConfig cfg = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL).build();
        LoraSgdModel<Label> lora = TribuoPeft.lora(base, cfg).epochs(20).trainAdapter(sampleB);
        var warmTrainer = TribuoPeft.warmStart(base).epochs(20);
        Model<Label> warm = warmTrainer.train(sampleB);
        double baseAcc = accuracy(base, testB);
        double loraAcc = accuracy(lora, testB);
        double warmAcc = accuracy(warm, testB);
        System.out.printf("crescents moved, factorization machine: base %.4f, LoRA %.4f (%d params), warm start %.4f"
                + " (%d params) on B%n", baseAcc, loraAcc, lora.trainableParameters(), warmAcc,
                warmTrainer.trainableParameters(sampleB));
        // A [2, 2], B [2, 2], bias 2; warm start: bias 2, linear [2, 2], factors 2 x [4, 2]
        assertThat(lora.trainableParameters()).isEqualTo(10);
        assertThat(warmTrainer.trainableParameters(sampleB)).isEqualTo(22);
        assertThat(loraAcc).isGreaterThan(baseAcc + 0.05);
        assertThat(loraAcc).isGreaterThan(warmAcc - 0.05);
        assertThat(lora.merge()).isInstanceOf(FMClassificationModel.class);
        assertThat(warm).isInstanceOf(FMClassificationModel.class);
        assertThat(base.serialize().toByteArray()).isEqualTo(baseBefore);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(lora);
        }
        for (Model<?> copy : List.of(ModelReader.deserialize(lora.serialize(), "the adapted machine"),
                ModelReader.readJava(new ByteArrayInputStream(bytes.toByteArray()), "the adapted machine"))) {
            assertThat(copy.castModel(Label.class).predict(testB).get(7).getOutputScores())
                    .isEqualTo(lora.predict(testB).get(7).getOutputScores());
        }
    }

    static Dataset<Label> moved(Iterable<Example<Label>> source) {
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance("moved crescents", factory),
                factory);
        for (Example<Label> e : source) {
            double x1 = 0;
            double x2 = 0;
            for (org.tribuo.Feature f : e) {
                if (f.getName().equals("X1")) {
                    x1 = f.getValue();
                } else {
                    x2 = f.getValue();
                }
            }
            data.add(new ArrayExample<>(e.getOutput(), new String[] {"X1", "X2"}, new double[] {x1 + 1, x2 - 0.5}));
        }
        return data;
    }

    /**
     * Twenty classes in 100 dimensions; in domain B every class mean moves along one shared
     * direction by a class-specific amount (a rank-1 shift), which LoRA of rank 2 can follow with
     * an eighth of the warm start's trainable parameters.
     */
    @Test
    void manyClassesWithALowRankShiftNeedFarFewerParameters() {
        int classes = 20;
        int dims = 100;
        SplittableRandom random = new SplittableRandom(5);
        double[][] means = new double[classes][dims];
        double[] direction = new double[dims];
        double[] amount = new double[classes];
        for (int c = 0; c < classes; c++) {
            for (int d = 0; d < dims; d++) {
                means[c][d] = random.nextGaussian() * 0.15;
            }
            amount[c] = random.nextGaussian() * 3;
        }
        for (int d = 0; d < dims; d++) {
            direction[d] = random.nextGaussian() / Math.sqrt(dims);
        }
        Dataset<Label> a = blobs(means, null, null, 4000, 11);
        Dataset<Label> sampleB = blobs(means, direction, amount, 400, 12);
        Dataset<Label> testB = blobs(means, direction, amount, 4000, 13);
        Model<Label> base = trainBase(a);
        LoraConfig cfg = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL).build();
        LoraSgdModel<Label> lora = TribuoPeft.lora(base, cfg).epochs(10).trainAdapter(sampleB);
        var warmTrainer = TribuoPeft.warmStart(base).epochs(10);
        Model<Label> warm = warmTrainer.train(sampleB);
        double baseAcc = accuracy(base, testB);
        double loraAcc = accuracy(lora, testB);
        double warmAcc = accuracy(warm, testB);
        long loraParams = lora.trainableParameters();
        long warmParams = warmTrainer.trainableParameters(sampleB);
        System.out.printf("20 classes x 100 dims, rank-1 shift: base %.4f, LoRA r=2 %.4f (%d params),"
                + " warm start %.4f (%d params) on B%n", baseAcc, loraAcc, loraParams, warmAcc, warmParams);
        assertThat(loraParams).isEqualTo(2 * dims + classes * 2 + classes);
        assertThat(warmParams).isEqualTo(classes * (dims + 1));
        assertThat(loraParams * 7).isLessThan(warmParams);
        assertThat(loraAcc).isGreaterThan(baseAcc + 0.05);
        assertThat(loraAcc).isGreaterThan(warmAcc - 0.03);
    }

    static Dataset<Label> blobs(double[][] means, double[] direction, double[] amount, int n, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance("blobs seed " + seed, factory),
                factory);
        int dims = means[0].length;
        String[] names = new String[dims];
        for (int d = 0; d < dims; d++) {
            names[d] = String.format("f%03d", d);
        }
        for (int i = 0; i < n; i++) {
            int c = random.nextInt(means.length);
            double[] values = new double[dims];
            for (int d = 0; d < dims; d++) {
                values[d] = means[c][d] + random.nextGaussian() * 0.5 + (direction == null ? 0 : amount[c] * direction[d]);
            }
            data.add(new ArrayExample<>(new Label("c" + c), names, values));
        }
        return data;
    }
}
