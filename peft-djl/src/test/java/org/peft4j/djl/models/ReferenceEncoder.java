package org.peft4j.djl.models;

import java.util.Map;
import java.util.function.Function;
import org.apache.commons.math3.special.Erf;
import org.peft4j.api.safetensors.Tensor;

/**
 * A post-LayerNorm transformer encoder (BERT's, RoBERTa's, DistilBERT's layers) written out in
 * double arithmetic, one row at a time, for tests to check the families' DJL blocks against. The
 * weights come from a checkpoint's tensors by the names {@code names} gives each role.
 */
public final class ReferenceEncoder {
    /** The checkpoint names of a layer's parts, relative to the layer. */
    public record LayerNames(String query, String key, String value, String attentionOut, String attentionNorm,
            String up, String down, String outputNorm) {}

    private final Map<String, Tensor> weights;
    private final int heads;
    private final double eps;

    /** An encoder over {@code weights} with {@code heads} attention heads and LayerNorm epsilon {@code eps}. */
    public ReferenceEncoder(Map<String, Tensor> weights, int heads, double eps) {
        this.weights = weights;
        this.heads = heads;
        this.eps = eps;
    }

    private double[] w(String name) {
        Tensor t = weights.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Row {@code r} of a [rows, dim] table. */
    public double[] row(String table, long r, int dim) {
        double[] all = w(table);
        double[] out = new double[dim];
        System.arraycopy(all, (int) r * dim, out, 0, dim);
        return out;
    }

    /** LayerNorm of each vector with the module's weight and bias. */
    public double[][] layerNorm(double[][] x, String module) {
        double[] g = w(module + ".weight");
        double[] b = w(module + ".bias");
        double[][] out = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            double mean = 0;
            for (double v : x[t]) {
                mean += v;
            }
            mean /= x[t].length;
            double var = 0;
            for (double v : x[t]) {
                var += (v - mean) * (v - mean);
            }
            var /= x[t].length;
            out[t] = new double[x[t].length];
            for (int i = 0; i < x[t].length; i++) {
                out[t][i] = (x[t][i] - mean) / Math.sqrt(var + eps) * g[i] + b[i];
            }
        }
        return out;
    }

    /** x W^T + b for each vector, W [out, in]. */
    public double[][] linear(double[][] x, String module) {
        double[] weight = w(module + ".weight");
        double[] bias = w(module + ".bias");
        int out = bias.length;
        int in = weight.length / out;
        double[][] y = new double[x.length][out];
        for (int t = 0; t < x.length; t++) {
            for (int o = 0; o < out; o++) {
                double s = bias[o];
                for (int i = 0; i < in; i++) {
                    s += weight[o * in + i] * x[t][i];
                }
                y[t][o] = s;
            }
        }
        return y;
    }

    /** Applies f to every element. */
    public static double[][] map(double[][] x, Function<Double, Double> f) {
        double[][] y = new double[x.length][];
        for (int t = 0; t < x.length; t++) {
            y[t] = new double[x[t].length];
            for (int i = 0; i < x[t].length; i++) {
                y[t][i] = f.apply(x[t][i]);
            }
        }
        return y;
    }

    /** Exact GELU, x·Φ(x). */
    public static double gelu(double x) {
        return 0.5 * x * (1 + Erf.erf(x / Math.sqrt(2)));
    }

    private static double[][] add(double[][] a, double[][] b) {
        double[][] y = new double[a.length][];
        for (int t = 0; t < a.length; t++) {
            y[t] = new double[a[t].length];
            for (int i = 0; i < a[t].length; i++) {
                y[t][i] = a[t][i] + b[t][i];
            }
        }
        return y;
    }

    /**
     * Runs one layer on the vectors of one row; {@code mask[j]} false hides position j from attention.
     *
     * @param prefix the layer's module path with a trailing dot
     */
    public double[][] layer(double[][] x, boolean[] mask, String prefix, LayerNames n) {
        double[][] q = linear(x, prefix + n.query());
        double[][] k = linear(x, prefix + n.key());
        double[][] v = linear(x, prefix + n.value());
        int hidden = x[0].length;
        int d = hidden / heads;
        double[][] ctx = new double[x.length][hidden];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < x.length; i++) {
                double[] scores = new double[x.length];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < x.length; j++) {
                    if (!mask[j]) {
                        scores[j] = Double.NEGATIVE_INFINITY;
                        continue;
                    }
                    double s = 0;
                    for (int c = 0; c < d; c++) {
                        s += q[i][h * d + c] * k[j][h * d + c];
                    }
                    scores[j] = s / Math.sqrt(d);
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < x.length; j++) {
                    scores[j] = mask[j] ? Math.exp(scores[j] - max) : 0;
                    sum += scores[j];
                }
                for (int j = 0; j < x.length; j++) {
                    for (int c = 0; c < d; c++) {
                        ctx[i][h * d + c] += scores[j] / sum * v[j][h * d + c];
                    }
                }
            }
        }
        double[][] attended = layerNorm(add(linear(ctx, prefix + n.attentionOut()), x), prefix + n.attentionNorm());
        double[][] up = map(linear(attended, prefix + n.up()), ReferenceEncoder::gelu);
        return layerNorm(add(linear(up, prefix + n.down()), attended), prefix + n.outputNorm());
    }

    /** Runs {@code layers} layers named {@code layerPrefix + l + "."}. */
    public double[][] layers(double[][] x, boolean[] mask, String layerPrefix, int layers, LayerNames n) {
        double[][] h = x;
        for (int l = 0; l < layers; l++) {
            h = layer(h, mask, layerPrefix + l + ".", n);
        }
        return h;
    }

    /** The largest |a - b| over the vectors of {@code reference} and the matching rows of {@code flat} [T, H]. */
    public static double maxAbsDiff(double[][] reference, float[] flat, int offset) {
        double max = 0;
        for (int t = 0; t < reference.length; t++) {
            for (int i = 0; i < reference[t].length; i++) {
                max = Math.max(max, Math.abs(reference[t][i] - flat[offset + t * reference[t].length + i]));
            }
        }
        return max;
    }
}
