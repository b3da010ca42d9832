package org.peft4j.tribuo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.lora.LoraSgdModel;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;

/**
 * {@link LoraSgdModel#resize}: full rank predicts as before; rank 1 is off by exactly the dropped σ
 * (here about 0: with two classes the softmax gradients of the two rows are opposite, so the trained
 * change has rank 1).
 */
class LoraResizeSgdTest {
    private static final LoraConfig CFG = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear()
            .optBias(LoraBias.ALL).build();

    /** ΔW = s·B·A [2 outputs, 2 features] of a saved adapter. */
    private static double[][] delta(LoraSgdModel<Label> model, Path dir) throws Exception {
        model.saveAdapter(dir);
        AdapterCheckpoint c = AdapterCheckpoint.load(dir);
        double[] a = c.tensors().get("base_model.model.linear.lora_A.weight").toDoubleArray();
        double[] b = c.tensors().get("base_model.model.linear.lora_B.weight").toDoubleArray();
        int r = a.length / 2;
        double s = ((LoraConfig) c.config()).scalingFor(LoraSgdModel.MODULE);
        double[][] d = new double[2][2];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                for (int k = 0; k < r; k++) {
                    d[i][j] += s * b[i * r + k] * a[k * 2 + j];
                }
            }
        }
        return d;
    }

    @Test
    void resizedAdaptersKeepTheBestLowRankChange(@TempDir Path dir) throws Exception {
        Model<Label> base = DomainShiftTest.trainBase(DomainShiftTest.gaussians(500, 1, 0));
        Dataset<Label> sample = DomainShiftTest.gaussians(80, 2, 1.0);
        Dataset<Label> test = DomainShiftTest.gaussians(100, 3, 1.0);
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(5).trainAdapter(sample);

        LoraSgdModel<Label> same = apart.resize(2);
        List<Prediction<Label>> expected = apart.predict(test);
        List<Prediction<Label>> actual = same.predict(test);
        for (int i = 0; i < expected.size(); i++) {
            for (String label : expected.get(i).getOutputScores().keySet()) {
                assertThat(actual.get(i).getOutputScores().get(label).getScore())
                        .isCloseTo(expected.get(i).getOutputScores().get(label).getScore(), within(1e-9));
            }
        }

        double[][] d = delta(apart, dir.resolve("r2"));
        double[][] d1 = delta(apart.resize(1), dir.resolve("r1"));
        // the singular values of a 2×2 matrix: σ² = (‖M‖² ± √(‖M‖⁴ − 4 det²)) / 2
        double norm2 = d[0][0] * d[0][0] + d[0][1] * d[0][1] + d[1][0] * d[1][0] + d[1][1] * d[1][1];
        double det = d[0][0] * d[1][1] - d[0][1] * d[1][0];
        double smallest = Math.sqrt(Math.max(0, (norm2 - Math.sqrt(norm2 * norm2 - 4 * det * det)) / 2));
        double error = 0;
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                error += (d[i][j] - d1[i][j]) * (d[i][j] - d1[i][j]);
            }
        }
        assertThat(Math.sqrt(norm2)).isGreaterThan(1e-3);
        assertThat(Math.sqrt(error)).isCloseTo(smallest, within(1e-9));
    }
}
