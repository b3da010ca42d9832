package org.peft4j.api.lora.algebra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

class LoraResizeTest {
    /** An [n, n] rotation by angle t in the plane of axes i and j. */
    private static double[][] rotation(int n, int i, int j, double t) {
        double[][] r = new double[n][n];
        for (int k = 0; k < n; k++) {
            r[k][k] = 1;
        }
        r[i][i] = Math.cos(t);
        r[j][j] = Math.cos(t);
        r[i][j] = -Math.sin(t);
        r[j][i] = Math.sin(t);
        return r;
    }

    /**
     * A rank-4 adapter on a 5×6 layer whose update has the singular values 8, 4, 2, 1 (times the
     * scaling 2): B = P₅ diag(σ) (first four columns), A = (first four rows of) P₆ᵀ, with P rotations.
     */
    private static AdapterCheckpoint rank4() {
        double[] sigma = {8, 4, 2, 1};
        double[][] p5 = Lora.multiply(rotation(5, 0, 3, 0.7), rotation(5, 1, 4, -0.4));
        double[][] p6 = Lora.multiply(rotation(6, 0, 5, 0.3), rotation(6, 2, 3, 1.1));
        double[][] b = new double[5][4];
        double[][] a = new double[4][6];
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < 5; i++) {
                b[i][k] = p5[i][k] * sigma[k];
            }
            for (int j = 0; j < 6; j++) {
                a[k][j] = p6[j][k];
            }
        }
        LoraConfig c = LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("dense").build(); // s = 2
        return Lora.of(c).module("layer.dense", a, b)
                .tensor("base_model.model.classifier.weight", Tensor.ofFloats(new long[] {1, 2}, new float[] {1, 2})).build();
    }

    @Test
    void theFrobeniusErrorIsTheRootOfTheDroppedSquaredSingularValues() {
        AdapterCheckpoint adapter = rank4();
        double[][] delta = Lora.delta(adapter, "layer.dense");
        for (int r = 1; r <= 4; r++) {
            AdapterCheckpoint resized = LoraResize.resize(adapter, r);
            double dropped = 0;
            for (int k = r; k < 4; k++) {
                double sigma = 2 * new double[] {8, 4, 2, 1}[k];
                dropped += sigma * sigma;
            }
            assertThat(Lora.frobenius(Lora.delta(resized, "layer.dense"), delta)).as("rank " + r)
                    .isCloseTo(Math.sqrt(dropped), within(1e-9));
            LoraConfig c = (LoraConfig) resized.config();
            assertThat(c.r()).isEqualTo(r);
            assertThat(c.scalingFor("layer.dense")).isEqualTo(1f);
            assertThat(resized.tensors().get("base_model.model.layer.dense.lora_A.weight").shape()).containsExactly(r, 6);
            assertThat(resized.tensors()).containsKey("base_model.model.classifier.weight");
        }
        assertThat(Lora.frobenius(Lora.delta(LoraResize.resize(adapter, 6), "layer.dense"), delta)).isLessThan(1e-12);
        assertThatThrownBy(() -> LoraResize.resize(adapter, 0)).hasMessageContaining("the new rank must be positive");
    }

    @Test
    void extractionRecoversALowRankFineTuneAndSavesAnAdapterDirectory(@TempDir Path dir) throws Exception {
        Random random = new Random(5);
        Map<String, Tensor> base = new HashMap<>();
        Map<String, Tensor> tuned = new HashMap<>();
        double[][] w = new double[5][6];
        for (double[] row : w) {
            for (int j = 0; j < row.length; j++) {
                row[j] = random.nextGaussian();
            }
        }
        double[][] change = Lora.delta(rank4(), "layer.dense"); // singular values 16, 8, 4, 2
        double[][] wTuned = new double[5][6];
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 6; j++) {
                wTuned[i][j] = w[i][j] + change[i][j];
            }
        }
        base.put("enc.dense.weight", Lora.tensor(w));
        tuned.put("enc.dense.weight", Lora.tensor(wTuned));
        base.put("enc.fixed.weight", Lora.tensor(w));
        tuned.put("enc.fixed.weight", Lora.tensor(w));
        base.put("enc.norm.weight", Tensor.ofDoubles(new long[] {2}, new double[] {1, 1}));
        tuned.put("enc.norm.weight", Tensor.ofDoubles(new long[] {2}, new double[] {1, 1.5}));
        tuned.put("classifier.weight", Tensor.ofDoubles(new long[] {2, 6}, new double[12]));

        AdapterCheckpoint full = LoraExtraction.builder().setBase(base).setTuned(tuned).setRank(4)
                .optTaskType(TaskType.SEQ_CLS).build().extract();
        assertThat(Lora.frobenius(Lora.delta(full, "enc.dense"), change)).isLessThan(1e-9);
        assertThat(full.tensors().keySet()).containsExactlyInAnyOrder("base_model.model.enc.dense.lora_A.weight",
                "base_model.model.enc.dense.lora_B.weight", "base_model.model.classifier.weight");
        LoraConfig c = (LoraConfig) full.config();
        assertThat(c.targetModules().names()).containsExactly("enc.dense");
        assertThat(c.modulesToSave()).containsExactly("classifier");

        AdapterCheckpoint two = LoraExtraction.builder().setBase(base).setTuned(tuned).setRank(2).build().extract();
        assertThat(Lora.frobenius(Lora.delta(two, "enc.dense"), change)).isCloseTo(Math.sqrt(16 + 4), within(1e-9));
        two.save(dir);
        AdapterCheckpoint loaded = AdapterCheckpoint.load(dir);
        assertThat(Lora.frobenius(Lora.delta(loaded, "enc.dense"), change)).isCloseTo(Math.sqrt(16 + 4), within(1e-5));

        assertThatThrownBy(() -> LoraExtraction.builder().setBase(base).setTuned(base).setRank(2).build().extract())
                .hasMessageContaining("no targeted 2-D weight differs");
    }
}
