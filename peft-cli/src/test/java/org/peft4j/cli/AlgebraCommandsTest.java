package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;

/** {@code peft4j merge-adapters} and {@code peft4j extract-lora} on small files written here. */
class AlgebraCommandsTest {
    private static final String A = "base_model.model.layer.q.lora_A.weight";
    private static final String B = "base_model.model.layer.q.lora_B.weight";

    private static AdapterCheckpoint adapter(float[] a, float[] b) {
        LoraConfig c = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetModules("q").build();
        return new AdapterCheckpoint(c, Map.of(A, Tensor.ofFloats(new long[] {1, 3}, a), B, Tensor.ofFloats(new long[] {2, 1}, b)));
    }

    /** ΔW of the saved adapter at {@code dir}, s·B·A, row-major. */
    private static double[] delta(Path dir) throws Exception {
        AdapterCheckpoint c = AdapterCheckpoint.load(dir);
        float[] a = c.tensors().get(A).toFloatArray();
        float[] b = c.tensors().get(B).toFloatArray();
        int r = a.length / 3;
        double s = ((LoraConfig) c.config()).scalingFor("layer.q");
        double[] d = new double[6];
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 3; j++) {
                for (int k = 0; k < r; k++) {
                    d[i * 3 + j] += s * b[i * r + k] * a[k * 3 + j];
                }
            }
        }
        return d;
    }

    @Test
    void mergeAdaptersWritesTheCombinedAdapter(@TempDir Path dir) throws Exception {
        adapter(new float[] {3, -1, 2}, new float[] {1, 2}).save(dir.resolve("x"));
        adapter(new float[] {-1, -2, 4}, new float[] {2, -1}).save(dir.resolve("y"));
        Peft4jCommandTest.Result r = Peft4jCommandTest.run("merge-adapters", dir.resolve("x").toString(),
                dir.resolve("y").toString(), "--weights", "1,0.5", "--combination-type", "cat", "--out", dir.resolve("xy").toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("combined 2 adapters with cat").contains("(r=2, lora_alpha=2, 1 modules)");
        // ΔW_x + .5 ΔW_y = [3 -1 2; 6 -2 4] + .5 [-2 -4 8; 1 2 -4]
        assertThat(delta(dir.resolve("xy"))).containsExactly(new double[] {2, -3, 6, 6.5, -1, 2}, within(1e-6));

        Peft4jCommandTest.Result bad = Peft4jCommandTest.run("merge-adapters", dir.resolve("x").toString(),
                dir.resolve("y").toString(), "--weights", "1", "--out", dir.resolve("z").toString());
        assertThat(bad.status()).isEqualTo(Peft4j.BAD_INPUT);
        assertThat(bad.err()).contains("got 2 adapter directories but 1 weights");
        Peft4jCommandTest.Result unknown = Peft4jCommandTest.run("merge-adapters", dir.resolve("x").toString(),
                dir.resolve("y").toString(), "--weights", "1,1", "--combination-type", "mean", "--out", dir.resolve("z").toString());
        assertThat(unknown.status()).isEqualTo(Peft4j.BAD_INPUT);
        assertThat(unknown.err()).contains("unknown combination_type \"mean\"; expected one of linear, cat, svd");
        assertThat(dir.resolve("z")).doesNotExist();
    }

    @Test
    void extractLoraRecoversALowRankChange(@TempDir Path dir) throws Exception {
        float[] w = {1, 0, 2, -1, 3, 1};
        float[] change = {3, -1, 2, 6, -2, 4}; // [1; 2][3 -1 2], rank 1
        float[] tuned = new float[6];
        for (int i = 0; i < 6; i++) {
            tuned[i] = w[i] + change[i];
        }
        Path base = dir.resolve("base.safetensors");
        new SafeTensors(Map.of("layer.q.weight", Tensor.ofFloats(new long[] {2, 3}, w)), SafeTensors.PT_METADATA).write(base);
        Path tunedDir = dir.resolve("tuned");
        java.nio.file.Files.createDirectories(tunedDir);
        new SafeTensors(Map.of("layer.q.weight", Tensor.ofFloats(new long[] {2, 3}, tuned)), SafeTensors.PT_METADATA)
                .write(tunedDir.resolve("model.safetensors"));
        Peft4jCommandTest.Result r = Peft4jCommandTest.run("extract-lora", "--base", base.toString(), "--tuned",
                tunedDir.toString(), "--rank", "1", "--out", dir.resolve("lora").toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("extracted a rank-1 LoRA adapter on 1 modules");
        double[] expected = new double[6];
        for (int i = 0; i < 6; i++) {
            expected[i] = change[i];
        }
        assertThat(delta(dir.resolve("lora"))).containsExactly(expected, within(1e-5));

        Peft4jCommandTest.Result same = Peft4jCommandTest.run("extract-lora", "--base", base.toString(), "--tuned",
                base.toString(), "--rank", "1", "--out", dir.resolve("none").toString());
        assertThat(same.status()).isEqualTo(Peft4j.BAD_INPUT);
        assertThat(same.err()).contains("no targeted 2-D weight differs");
    }
}
