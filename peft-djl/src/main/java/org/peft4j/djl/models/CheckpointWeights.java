package org.peft4j.djl.models;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.VirtualTokenHost;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Fills an initialized model's parameters from a checkpoint's tensors, by state-dict name, all checked first. */
public final class CheckpointWeights {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointWeights.class);
    private static final int PROBLEMS_SHOWN = 20;

    private CheckpointWeights() {}

    /**
     * Copies {@code tensors} into every parameter of {@code model} (F16 and BF16 widened to the
     * parameter's type), after checking that each one exists with the parameter's shape and a
     * floating-point type; nothing is copied if any does not. Tensors the model does not use are
     * logged.
     *
     * @param source where the tensors come from, for messages
     * @throws IllegalArgumentException listing the missing and mis-shaped tensors
     */
    public static void load(Block model, Map<String, Tensor> tensors, String source) {
        Map<String, Parameter> parameters = StateDicts.namedParameters(model);
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            Tensor t = tensors.get(e.getKey());
            long[] expected = e.getValue().getArray().getShape().getShape();
            if (t == null) {
                problems.add("missing tensor \"" + e.getKey() + "\"");
            } else if (!Arrays.equals(t.shape(), expected)) {
                problems.add("tensor \"" + e.getKey() + "\" has shape " + Arrays.toString(t.shape())
                        + " but the config gives " + Arrays.toString(expected));
            } else if (!t.dtype().isFloatingPoint()) {
                problems.add("tensor \"" + e.getKey() + "\" has dtype " + t.dtype());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(source + ": the checkpoint does not match its config: "
                    + String.join("; ", problems.subList(0, Math.min(problems.size(), PROBLEMS_SHOWN)))
                    + (problems.size() > PROBLEMS_SHOWN ? "; ... (" + problems.size() + " problems)" : ""));
        }
        TreeSet<String> unused = new TreeSet<>(tensors.keySet());
        unused.removeAll(parameters.keySet());
        if (!unused.isEmpty()) {
            LOG.info("{}: ignoring tensors the model does not use: {}", source, unused);
        }
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            TensorConversions.copyInto(tensors.get(e.getKey()), e.getValue().getArray());
        }
    }

    /**
     * Returns the parameters of a model with no adapter attached, by state-dict name, as float32
     * tensors: what a merged model saves.
     *
     * @throws IllegalStateException if an adapter is still attached (LoRA or IA3 weights in the
     *     tree, or prompt- or prefix-tuning's virtual tokens)
     */
    public static Map<String, Tensor> plainWeights(Block model) {
        if (model instanceof VirtualTokenHost host && host.virtualTokens() != null) {
            throw new IllegalStateException("a prompt- or prefix-tuning adapter is attached; it cannot be merged into"
                    + " the weights: unload it first");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        StateDicts.namedParameters(model).forEach((name, parameter) -> {
            if (name.contains("lora_") || name.contains("ia3_")) {
                throw new IllegalStateException("an adapter is still attached (" + name + "): merge and unload it first");
            }
            out.put(name, TensorConversions.toTensor(parameter.getArray()));
        });
        return out;
    }

    /** Returns the transpose of a 2-D tensor, as float32: a checkpoint's [in, out] weight as [out, in], or back. */
    public static Tensor transpose(Tensor t) {
        int rows = (int) t.shape()[0];
        int cols = (int) t.shape()[1];
        float[] in = t.toFloatArray();
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = in[r * cols + c];
            }
        }
        return Tensor.ofFloats(new long[] {cols, rows}, out);
    }
}
