package org.peft4j.api.lora.algebra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.Tensor;

/**
 * PiSSA and OLoRA against PEFT's own W_res and s·B·A (src/test/resources/algebra/init_golden.json,
 * written by src/test/python/make_init_golden.py), their defining identities, and the conversion
 * of a trained adapter into plain LoRA.
 */
class LoraDecompositionInitTest {
    private static double[][] matrix(JsonNode rows) {
        double[][] out = new double[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new double[rows.get(i).size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = rows.get(i).get(j).asDouble();
            }
        }
        return out;
    }

    private static double[][] random(int rows, int cols, long seed) {
        Random random = new Random(seed);
        double[][] m = new double[rows][cols];
        for (double[] row : m) {
            for (int j = 0; j < cols; j++) {
                row[j] = random.nextGaussian();
            }
        }
        return m;
    }

    private static double[][] sBA(DecomposedInit init, double s) {
        return Lora.scale(Lora.multiply(Lora.rows(init.b()), Lora.rows(init.a())), s);
    }

    private static double[][] add(double[][] x, double[][] y) {
        double[][] out = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                out[i][j] = x[i][j] + y[i][j];
            }
        }
        return out;
    }

    @Test
    void pissaAndOloraMatchPeft() throws Exception {
        JsonNode golden;
        try (InputStream in = getClass().getResourceAsStream("/algebra/init_golden.json")) {
            golden = new ObjectMapper().readTree(in);
        }
        for (JsonNode c : golden.get("cases")) {
            String init = c.get("init_lora_weights").asText();
            LoraConfig config = LoraConfig.builder().optR(2).optLoraAlpha(4).setTargetModules("wide", "tall")
                    .optInitLoraWeights(init.equals("pissa") ? LoraInit.PISSA : LoraInit.OLORA).build();
            for (String module : new String[] {"wide", "tall"}) {
                double[][] w = matrix(golden.get("weights").get(module));
                DecomposedInit d = LoraDecompositionInit.of(config, module, Lora.tensor(w), 0);
                assertThat(Lora.frobenius(Lora.rows(d.residual()), matrix(c.get("modules").get(module).get("residual"))))
                        .as(init + " W_res of " + module).isLessThan(1e-5);
                assertThat(Lora.frobenius(sBA(d, 2), matrix(c.get("modules").get(module).get("delta"))))
                        .as(init + " s·B·A of " + module).isLessThan(1e-5);
                assertThat(Lora.frobenius(add(Lora.rows(d.residual()), sBA(d, 2)), w)).isLessThan(1e-12);
            }
        }
    }

    @Test
    void pissaKeepsThePrincipalPartAndNiterConvergesToIt() {
        // W = [diag(9, 4, 1) 0]: its principal part at r = 2 is [diag(9, 4, 0) 0]
        double[][] w = {{9, 0, 0, 0}, {0, 4, 0, 0}, {0, 0, 1, 0}};
        LoraConfig pissa = LoraConfig.builder().optR(2).optLoraAlpha(1).setTargetModules("m")
                .optInitLoraWeights(LoraInit.PISSA).build(); // s = 0.5
        DecomposedInit d = LoraDecompositionInit.of(pissa, "m", Lora.tensor(w), 0);
        assertThat(Lora.frobenius(Lora.rows(d.residual()), new double[][] {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 1, 0}}))
                .isLessThan(1e-12);
        // A = √(S/s) Vᵀ: rows of norm √18 and √8
        double[][] a = Lora.rows(d.a());
        assertThat(a[0][0] * a[0][0]).isCloseTo(18, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(a[1][1] * a[1][1]).isCloseTo(8, org.assertj.core.api.Assertions.within(1e-12));

        // rank 3 plus a little noise: a clear gap after σ₃, where two subspace iterations suffice
        double[][] big = add(Lora.multiply(random(40, 3, 3), random(3, 30, 4)), Lora.scale(random(40, 30, 5), 0.01));
        LoraConfig exact = pissa.toBuilder().optR(3).build();
        LoraConfig niter = exact.toBuilder().optPissaNiter(2).build();
        double[][] expected = Lora.rows(LoraDecompositionInit.of(exact, "m", Lora.tensor(big), 0).residual());
        double[][] approx = Lora.rows(LoraDecompositionInit.of(niter, "m", Lora.tensor(big), 5).residual());
        assertThat(Lora.frobenius(approx, expected)).isLessThan(1e-6);
        assertThatThrownBy(() -> LoraDecompositionInit.of(exact.toBuilder().optR(4).build(), "m", Lora.tensor(w), 0))
                .hasMessageContaining("m: init_lora_weights PISSA needs r <= 3");
    }

    @Test
    void aTrainedAdapterConvertsToLoraOnTheOriginalBase() {
        double[][] w = random(5, 6, 11);
        LoraConfig config = LoraConfig.builder().optR(2).optLoraAlpha(4).setTargetModules("m")
                .optInitLoraWeights(LoraInit.OLORA).build();
        DecomposedInit d = LoraDecompositionInit.of(config, "m", Lora.tensor(w), 0);
        AdapterCheckpoint initial = Lora.of(config).module("m", Lora.rows(d.a()), Lora.rows(d.b())).build();
        double[][] a = Lora.rows(d.a());
        double[][] b = Lora.rows(d.b());
        double[][] da = random(2, 6, 12);
        double[][] db = random(5, 2, 13);
        AdapterCheckpoint trained = Lora.of(config).module("m", add(a, Lora.scale(da, 0.1)), add(b, Lora.scale(db, 0.1)))
                .tensor("base_model.model.head.weight", Tensor.ofDoubles(new long[] {1}, new double[] {3})).build();
        // the trained model: W_res + s·B·A
        double[][] model = add(Lora.rows(d.residual()), Lora.delta(trained, "m"));

        AdapterCheckpoint converted = LoraDecompositionInit.convertToLora(trained, initial);
        LoraConfig c = (LoraConfig) converted.config();
        assertThat(c.r()).isEqualTo(4);
        assertThat(c.loraAlpha()).isEqualTo(8f);
        assertThat(c.initLoraWeights()).isEqualTo(LoraInit.KAIMING_UNIFORM);
        assertThat(converted.tensors()).containsKey("base_model.model.head.weight");
        assertThat(Lora.frobenius(add(w, Lora.delta(converted, "m")), model)).isLessThan(1e-12);

        AdapterCheckpoint other = Lora.of(config).module("n", a, b).build();
        assertThatThrownBy(() -> LoraDecompositionInit.convertToLora(trained, other))
                .hasMessageContaining("modules [m] differ from the initial adapter's [n]");
    }
}
