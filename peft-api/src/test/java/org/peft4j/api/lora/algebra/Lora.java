package org.peft4j.api.lora.algebra;

import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

/** Small LoRA checkpoints and plain matrix arithmetic for the algebra tests. */
final class Lora {
    private final LoraConfig config;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private Lora(LoraConfig config) {
        this.config = config;
    }

    static Lora of(LoraConfig config) {
        return new Lora(config);
    }

    /** Adds module {@code path}'s A [r, in] and B [out, r], given as rows. */
    Lora module(String path, double[][] a, double[][] b) {
        tensors.put("base_model.model." + path + ".lora_A.weight", tensor(a));
        tensors.put("base_model.model." + path + ".lora_B.weight", tensor(b));
        return this;
    }

    /** Adds a tensor under its own key. */
    Lora tensor(String key, Tensor t) {
        tensors.put(key, t);
        return this;
    }

    AdapterCheckpoint build() {
        return new AdapterCheckpoint(config, tensors);
    }

    static Tensor tensor(double[][] rows) {
        int cols = rows[0].length;
        double[] flat = new double[rows.length * cols];
        for (int i = 0; i < rows.length; i++) {
            System.arraycopy(rows[i], 0, flat, i * cols, cols);
        }
        return Tensor.ofDoubles(new long[] {rows.length, cols}, flat);
    }

    static double[][] rows(Tensor t) {
        long[] s = t.shape();
        double[] flat = t.toDoubleArray();
        double[][] out = new double[(int) s[0]][(int) s[1]];
        for (int i = 0; i < out.length; i++) {
            System.arraycopy(flat, i * out[i].length, out[i], 0, out[i].length);
        }
        return out;
    }

    static double[][] multiply(double[][] x, double[][] y) {
        double[][] out = new double[x.length][y[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < y[0].length; j++) {
                for (int k = 0; k < y.length; k++) {
                    out[i][j] += x[i][k] * y[k][j];
                }
            }
        }
        return out;
    }

    static double[][] scale(double[][] x, double s) {
        double[][] out = new double[x.length][x[0].length];
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                out[i][j] = x[i][j] * s;
            }
        }
        return out;
    }

    /** ΔW = s·B·A of module {@code path} in {@code adapter}, s from its config. */
    static double[][] delta(AdapterCheckpoint adapter, String path) {
        double[][] a = rows(adapter.tensors().get("base_model.model." + path + ".lora_A.weight"));
        double[][] b = rows(adapter.tensors().get("base_model.model." + path + ".lora_B.weight"));
        return scale(multiply(b, a), ((LoraConfig) adapter.config()).scalingFor(path));
    }

    static double frobenius(double[][] x, double[][] y) {
        double sum = 0;
        for (int i = 0; i < x.length; i++) {
            for (int j = 0; j < x[0].length; j++) {
                double d = x[i][j] - y[i][j];
                sum += d * d;
            }
        }
        return Math.sqrt(sum);
    }
}
