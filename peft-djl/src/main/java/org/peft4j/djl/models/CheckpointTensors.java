package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fills a family's model from a checkpoint's tensors: every parameter must be there with the shape
 * the architecture gives it, in a floating-point type (F32, F64, F16 or BF16, all computed in F32).
 */
public final class CheckpointTensors {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointTensors.class);
    private static final int MAX_PROBLEMS = 20;

    private CheckpointTensors() {}

    /**
     * Returns the tensors under their names without the first of {@code prefixes} each starts
     * with (a task model's {@code roberta.}, {@code distilbert.}, ...); other names stay as they are.
     */
    public static Map<String, Tensor> withoutPrefix(Map<String, Tensor> weights, List<String> prefixes) {
        Map<String, Tensor> out = new HashMap<>();
        for (Map.Entry<String, Tensor> e : weights.entrySet()) {
            String key = e.getKey();
            for (String prefix : prefixes) {
                if (key.startsWith(prefix)) {
                    key = key.substring(prefix.length());
                    break;
                }
            }
            out.put(key, e.getValue());
        }
        return out;
    }

    /**
     * Initializes {@code model} for inputs [B, T] and copies every parameter from {@code tensors}
     * (by its Hugging Face module path), after checking them all; tensors the model does not use
     * (a task head, a pooler, buffers) are logged and ignored.
     *
     * @param source the weights file, for messages
     * @throws IllegalArgumentException listing every missing tensor and every wrong shape or dtype
     */
    public static void load(Block model, Map<String, Tensor> tensors, String source, NDManager manager) {
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
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
                problems.add("tensor \"" + e.getKey() + "\" has dtype " + t.dtype() + "; expected a floating-point type");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(source + ": the checkpoint does not match its config: "
                    + String.join("; ", problems.subList(0, Math.min(problems.size(), MAX_PROBLEMS)))
                    + (problems.size() > MAX_PROBLEMS ? "; ... (" + problems.size() + " problems)" : ""));
        }
        TreeSet<String> unused = new TreeSet<>(tensors.keySet());
        unused.removeAll(parameters.keySet());
        unused.removeIf(k -> k.endsWith("position_ids"));
        if (!unused.isEmpty()) {
            LOG.info("{}: ignoring tensors the encoder does not use: {}", source, unused);
        }
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            TensorConversions.copyInto(tensors.get(e.getKey()), e.getValue().getArray());
        }
    }
}
