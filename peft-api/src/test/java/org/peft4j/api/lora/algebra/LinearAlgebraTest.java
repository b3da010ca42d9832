package org.peft4j.api.lora.algebra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.peft4j.api.safetensors.Tensor;

class LinearAlgebraTest {

    @Test
    void exactSvdOfAKnownMatrix() {
        double[][] m = {{3, 0, 0}, {0, -4, 0}};
        Svd svd = LinearAlgebra.svd(Lora.tensor(m));
        assertThat(svd.s().toDoubleArray()).containsExactly(new double[] {4, 3}, within(1e-12));
        assertThat(svd.u().shape()).containsExactly(2, 2);
        assertThat(svd.vt().shape()).containsExactly(2, 3);
        assertReconstructs(svd, m, 1e-12);
        assertOrthonormalColumns(Lora.rows(svd.u()), 1e-12);
    }

    @Test
    void qrOfTallAndWideMatrices() {
        for (double[][] m : new double[][][] {{{1, 2, 0}, {3, -1, 4}, {0, 2, 2}, {1, 1, 1}}, {{2, -1, 3}, {4, 0, 1}}}) {
            Qr qr = LinearAlgebra.qr(Lora.tensor(m));
            int k = Math.min(m.length, m[0].length);
            double[][] q = Lora.rows(qr.q());
            double[][] r = Lora.rows(qr.r());
            assertThat(qr.q().shape()).containsExactly(m.length, k);
            assertThat(qr.r().shape()).containsExactly(k, m[0].length);
            assertOrthonormalColumns(q, 1e-12);
            for (int i = 0; i < k; i++) {
                for (int j = 0; j < i; j++) {
                    assertThat(r[i][j]).isEqualTo(0.0);
                }
            }
            assertThat(Lora.frobenius(Lora.multiply(q, r), m)).isLessThan(1e-12);
        }
    }

    @Test
    void randomizedSvdOfALargeLowRankMatrixFindsItsSingularValues() {
        int n = 1100;
        double[] sigma = {50, 20, 9, 5, 3, 2, 1, 0.5};
        Random random = new Random(7);
        double[][] u = orthonormal(n, sigma.length, random);
        double[][] v = orthonormal(n, sigma.length, random);
        double[] flat = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double sum = 0;
                for (int k = 0; k < sigma.length; k++) {
                    sum += u[i][k] * sigma[k] * v[j][k];
                }
                flat[i * n + j] = sum;
            }
        }
        Tensor m = Tensor.ofDoubles(new long[] {n, n}, flat);
        Svd svd = LinearAlgebra.svd(m, 5, LinearAlgebra.DEFAULT_NITER, 42);
        assertThat(svd.s().toDoubleArray()).containsExactly(new double[] {50, 20, 9, 5, 3}, within(1e-9));
        double[][] us = Lora.rows(svd.u());
        for (int k = 0; k < 5; k++) { // each singular vector up to its sign
            double dot = 0;
            for (int i = 0; i < n; i++) {
                dot += us[i][k] * u[i][k];
            }
            assertThat(Math.abs(dot)).isCloseTo(1, within(1e-9));
        }
        assertThat(LinearAlgebra.svd(m, 5, LinearAlgebra.DEFAULT_NITER, 42)).isEqualTo(svd);
    }

    @Test
    void torchStyleRandomizedSvdWithAllDirectionsIsExact() {
        double[][] m = {{1, 2, 3, 4}, {2, 0, 1, -1}, {0, 1, 1, 3}};
        Svd exact = LinearAlgebra.svd(Lora.tensor(m));
        Svd randomized = LinearAlgebra.randomizedSvd(Lora.tensor(m), 3, 0, 1);
        assertThat(randomized.s().toDoubleArray()).containsExactly(exact.s().toDoubleArray(), within(1e-10));
        assertReconstructs(randomized, m, 1e-10);
    }

    @Test
    void productSvdEqualsTheSvdOfTheProduct() {
        double[][] b = {{1, 2}, {0, 1}, {3, -1}, {2, 2}};
        double[][] a = {{1, 0, 2, -1, 1}, {0, 3, 1, 1, -2}};
        Factors f = LinearAlgebra.productSvd(Matrices.toMatrix(Lora.tensor(b), "b"), Matrices.toMatrix(Lora.tensor(a), "a"));
        Svd exact = LinearAlgebra.svd(Lora.tensor(Lora.multiply(b, a)));
        assertThat(f.s()).containsExactly(new double[] {exact.s().toDoubleArray()[0], exact.s().toDoubleArray()[1]}, within(1e-10));
        assertThat(Lora.frobenius(f.scaledU().multiply(f.vt()).getData(), Lora.multiply(b, a))).isLessThan(1e-10);
    }

    @Test
    void refusesWhatIsNotAMatrix() {
        assertThatThrownBy(() -> LinearAlgebra.svd(Tensor.ofDoubles(new long[] {3}, new double[3])))
                .hasMessageContaining("expected a 2-D matrix, got shape [3]");
        assertThatThrownBy(() -> LinearAlgebra.svd(Lora.tensor(new double[][] {{1}}), 0, 2, 0))
                .hasMessageContaining("rank must be positive");
    }

    /** n×k orthonormal columns: Gram-Schmidt (twice) on Gaussian columns. */
    private static double[][] orthonormal(int n, int k, Random random) {
        double[][] q = new double[n][k];
        for (int c = 0; c < k; c++) {
            double[] col = new double[n];
            for (int i = 0; i < n; i++) {
                col[i] = random.nextGaussian();
            }
            for (int pass = 0; pass < 2; pass++) {
                for (int p = 0; p < c; p++) {
                    double dot = 0;
                    for (int i = 0; i < n; i++) {
                        dot += col[i] * q[i][p];
                    }
                    for (int i = 0; i < n; i++) {
                        col[i] -= dot * q[i][p];
                    }
                }
            }
            double norm = 0;
            for (double x : col) {
                norm += x * x;
            }
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                q[i][c] = col[i] / norm;
            }
        }
        return q;
    }

    static void assertReconstructs(Svd svd, double[][] m, double tolerance) {
        double[][] u = Lora.rows(svd.u());
        double[] s = svd.s().toDoubleArray();
        double[][] us = new double[u.length][s.length];
        for (int i = 0; i < u.length; i++) {
            for (int k = 0; k < s.length; k++) {
                us[i][k] = u[i][k] * s[k];
            }
        }
        assertThat(Lora.frobenius(Lora.multiply(us, Lora.rows(svd.vt())), m)).isLessThan(tolerance);
    }

    private static void assertOrthonormalColumns(double[][] q, double tolerance) {
        for (int a = 0; a < q[0].length; a++) {
            for (int b = 0; b < q[0].length; b++) {
                double dot = 0;
                for (double[] row : q) {
                    dot += row[a] * row[b];
                }
                assertThat(dot).isCloseTo(a == b ? 1 : 0, within(tolerance));
            }
        }
    }
}
