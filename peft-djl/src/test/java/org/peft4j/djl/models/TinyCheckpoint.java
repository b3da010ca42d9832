package org.peft4j.djl.models;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;

/** A small random checkpoint in Hugging Face's layout, written by tests: tensors by name, then config.json and model.safetensors. */
public final class TinyCheckpoint {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Random random;

    /** Starts an empty checkpoint whose random tensors come from {@code seed}. */
    public TinyCheckpoint(long seed) {
        random = new Random(seed);
    }

    /** Adds a tensor of the shape with values from N(0, {@code spread}). */
    public TinyCheckpoint random(String name, double spread, long... shape) {
        int n = 1;
        for (long s : shape) {
            n *= (int) s;
        }
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) (random.nextGaussian() * spread);
        }
        tensors.put(name, Tensor.ofFloats(shape, values));
        return this;
    }

    /** Adds a linear layer's {@code weight} [out, in] and {@code bias} [out]. */
    public TinyCheckpoint linear(String module, int in, int out) {
        return random(module + ".weight", 1 / Math.sqrt(in), out, in).random(module + ".bias", 0.1, out);
    }

    /** Adds a LayerNorm's {@code weight} (around 1) and {@code bias}. */
    public TinyCheckpoint layerNorm(String module, int dim) {
        random(module + ".weight", 0.1, dim);
        float[] w = tensors.get(module + ".weight").toFloatArray();
        for (int i = 0; i < w.length; i++) {
            w[i] += 1;
        }
        tensors.put(module + ".weight", Tensor.ofFloats(new long[] {dim}, w));
        return random(module + ".bias", 0.1, dim);
    }

    /** Returns the tensors, by name. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Returns one tensor's values. */
    public float[] values(String name) {
        return tensors.get(name).toFloatArray();
    }

    /** Writes {@code config.json} and {@code model.safetensors}, each tensor passed through {@code convert} first. */
    public Path write(Path dir, String config, UnaryOperator<Tensor> convert) throws IOException {
        Map<String, Tensor> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> out.put(k, convert.apply(v)));
        Files.writeString(dir.resolve("config.json"), config, StandardCharsets.UTF_8);
        new SafeTensors(out, SafeTensors.PT_METADATA).write(dir.resolve("model.safetensors"));
        return dir;
    }

    /** Writes {@code config.json} and {@code model.safetensors} as they are. */
    public Path write(Path dir, String config) throws IOException {
        return write(dir, config, t -> t);
    }
}
