package org.peft4j.djl.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.lora.algebra.DecomposedInit;
import org.peft4j.api.lora.algebra.LoraDecompositionInit;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.Conv1dLayers;
import org.peft4j.djl.DjlMethod;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.TextTokenizer;
import org.peft4j.djl.internal.LayerInjection;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;

/**
 * Puts a LoRA adapter on a DJL block tree: finds the targeted {@link Linear} layers by module
 * path, checks everything (targets, shapes, saved tensors) before changing anything, then wraps
 * each target in a {@link LoraLinear}, or adds the adapter to one that is already wrapped.
 */
public final class LoraInjector implements DjlMethod {
    /** The end of a DoRA magnitude's key, after the module path; PEFT saves it without {@code .weight}. */
    static final String MAGNITUDE_KEY = ".lora_magnitude_vector";

    /** Creates the method's injector; {@link org.peft4j.djl.PeftModel} finds it as a service. */
    public LoraInjector() {}

    @Override
    public PeftType peftType() {
        return PeftType.LORA;
    }

    @Override
    public AttachedAdapter attach(Block root, String name, PeftConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer) {
        return attach(root, name, (LoraConfig) config, saved);
    }

    /**
     * Attaches a LoRA adapter to {@code root}, starting as {@code config.initLoraWeights()} says,
     * or from {@code saved} tensors (keyed as Hugging Face PEFT keys them) when they are given.
     *
     * @param root the model's root block, initialized
     * @param name the adapter's name, not yet used on this model
     * @param config the adapter's settings
     * @param saved the adapter's saved tensors, or null for a fresh adapter
     * @return the attached adapter, not yet active
     * @throws IllegalArgumentException if no module matches, a match is not a Linear layer, or a
     *     module to save does not exist; the model is then unchanged
     * @throws AdapterFormatException if {@code saved} lacks a tensor, has an extra one, or one of
     *     the wrong shape; the model is then unchanged
     */
    public static AttachedAdapter attach(Block root, String name, LoraConfig config, Map<String, Tensor> saved) {
        Map<String, ModuleTree.Node> nodes = ModuleTree.nodes(root);
        Map<String, ModuleTree.Node> targets = LayerInjection.findTargets(root, nodes, config, "LoRA", null);
        SavedModules savedWhole = SavedModules.capture(findSavedParameters(nodes, targets, config));
        if (saved != null) {
            checkSavedTensors(targets, savedWhole, config, saved);
        }
        Map<String, LoraLinear> layers = LayerInjection.addToLayers(targets, name, LoraLinear.class, LoraLinear::new,
                (layer, path, rollback) -> startsFromTheWeight(config)
                        ? decompositionWeights(layer, path, name, config, saved, rollback)
                        : newWeights(layer, path, name, config, saved),
                savedWhole, saved);
        return new DjlLoraAdapter(name, withFanInFanOut(config, targets), layers, savedWhole);
    }

    /**
     * The config with {@code fan_in_fan_out} true when a target is a {@code Conv1D} layer in the
     * Python model ({@link Conv1dLayers}), false otherwise, as PEFT sets it from the targets' type
     * ({@code peft/tuners/lora/layer.py} lines 2723-2736, {@code dispatch_default}, PEFT 0.21). It
     * changes no arithmetic here: every DJL Linear holds its weight [out, in].
     */
    private static LoraConfig withFanInFanOut(LoraConfig config, Map<String, ModuleTree.Node> targets) {
        boolean conv1d = targets.values().stream().anyMatch(n -> n.parent instanceof Conv1dLayers);
        return conv1d == config.fanInFanOut() ? config : config.toBuilder().optFanInFanOut(conv1d).build();
    }

    /** The modules to save and, unless bias is none, the trainable biases, keyed as PEFT saves them. */
    private static Map<String, Parameter> findSavedParameters(
            Map<String, ModuleTree.Node> nodes, Map<String, ModuleTree.Node> targets, LoraConfig config) {
        Map<String, Parameter> out = SavedModules.find(nodes, config.modulesToSave(), PeftType.LORA);
        if (config.bias() != LoraBias.NONE) {
            for (Map.Entry<String, ModuleTree.Node> e : nodes.entrySet()) {
                boolean wanted = config.bias() == LoraBias.ALL || targets.containsKey(e.getKey());
                Parameter bias = e.getValue().block.getDirectParameters().get("bias");
                if (wanted && bias != null && bias.getType() == Parameter.Type.BIAS) {
                    out.putIfAbsent(SavedModules.KEY_PREFIX + e.getKey() + ".bias", bias);
                }
            }
        }
        return out;
    }

    private static void checkSavedTensors(Map<String, ModuleTree.Node> targets, SavedModules savedWhole,
            LoraConfig config, Map<String, Tensor> saved) {
        Map<String, long[]> expected = new LinkedHashMap<>();
        Map<String, String> owner = new LinkedHashMap<>();
        targets.forEach((path, node) -> {
            Shape w = ((Linear) node.block).getDirectParameters().get("weight").getArray().getShape();
            int r = config.rankFor(path);
            String a = SavedModules.KEY_PREFIX + path + ".lora_A.weight";
            String b = SavedModules.KEY_PREFIX + path + ".lora_B.weight";
            expected.put(a, new long[] {r, w.get(1)});
            expected.put(b, new long[] {w.get(0), r});
            owner.put(a, path);
            owner.put(b, path);
            if (config.useDora()) {
                String m = SavedModules.KEY_PREFIX + path + MAGNITUDE_KEY;
                expected.put(m, new long[] {w.get(0)});
                owner.put(m, path);
            }
        });
        savedWhole.expectedShapes().forEach((key, shape) -> {
            expected.put(key, shape);
            owner.put(key, key.substring(SavedModules.KEY_PREFIX.length()));
        });
        List<String> problems = new ArrayList<>();
        expected.forEach((key, shape) -> LayerInjection.checkTensor(saved, owner.get(key), key, shape, "", problems));
        TreeSet<String> unexpected = new TreeSet<>(saved.keySet());
        unexpected.removeAll(expected.keySet());
        LayerInjection.throwIfProblems(problems, unexpected);
    }

    /** Whether the config's initialisation (PiSSA, OLoRA) decomposes the base weight. */
    private static boolean startsFromTheWeight(LoraConfig config) {
        LoraInit init = config.initLoraWeights();
        return init == LoraInit.PISSA || init == LoraInit.PISSA_NITER || init == LoraInit.OLORA;
    }

    /**
     * PiSSA or OLoRA: A and B from a decomposition of the layer's weight W
     * ({@link LoraDecompositionInit}), and W replaced in place by W_res = W − s·B·A, so the layer
     * computes what it computed before; {@code rollback} gets the step that puts W back. The
     * randomized SVD of {@code pissa_niter_N} is seeded by the module path, so a run repeats. With
     * {@code saved} tensors (a trained PiSSA or OLoRA adapter loaded onto the original base), W_res
     * is computed the same way and A and B are the saved ones, as PEFT's {@code from_pretrained}
     * does it (it runs the initialisation, then loads the weights).
     *
     * @throws IllegalArgumentException if the weight is not float32 or r exceeds its smaller side
     */
    private static LoraWeights decompositionWeights(LoraLinear layer, String path, String name, LoraConfig config,
            Map<String, Tensor> saved, List<Runnable> rollback) {
        NDArray weight = layer.weight().getArray();
        if (weight.getDataType() != DataType.FLOAT32) {
            throw new IllegalArgumentException(path + ": init_lora_weights " + config.initLoraWeights()
                    + " rewrites the base weight, which must be float32 here, got " + weight.getDataType());
        }
        Tensor original = TensorConversions.toTensor(weight);
        DecomposedInit init = LoraDecompositionInit.of(config, path, original, path.hashCode());
        NDManager manager = weight.getManager();
        Tensor savedA = saved == null ? init.a() : saved.get(SavedModules.KEY_PREFIX + path + ".lora_A.weight");
        Tensor savedB = saved == null ? init.b() : saved.get(SavedModules.KEY_PREFIX + path + ".lora_B.weight");
        NDArray a = TensorConversions.toNDArray(manager, savedA, DataType.FLOAT32);
        NDArray b = TensorConversions.toNDArray(manager, savedB, DataType.FLOAT32);
        TensorConversions.copyInto(init.residual(), weight);
        rollback.add(() -> TensorConversions.copyInto(original, weight));
        return new LoraWeights(name, a, b, config.scalingFor(path), config.loraDropout());
    }

    private static LoraWeights newWeights(LoraLinear layer, String path, String name, LoraConfig config,
            Map<String, Tensor> saved) {
        NDArray weight = layer.weight().getArray();
        NDManager manager = weight.getManager();
        DataType dtype = weight.getDataType();
        int r = config.rankFor(path);
        long in = layer.inFeatures();
        long out = layer.outFeatures();
        NDArray a;
        NDArray b;
        if (saved != null) {
            a = TensorConversions.toNDArray(manager, saved.get(SavedModules.KEY_PREFIX + path + ".lora_A.weight"), dtype);
            b = TensorConversions.toNDArray(manager, saved.get(SavedModules.KEY_PREFIX + path + ".lora_B.weight"), dtype);
        } else {
            // kaiming-uniform with a = sqrt(5): bound = sqrt(6 / ((1 + a^2) fan_in)) = 1 / sqrt(fan_in)
            float boundA = (float) (1 / Math.sqrt(in));
            a = config.initLoraWeights() == LoraInit.GAUSSIAN
                    ? manager.randomNormal(0, 1f / r, new Shape(r, in), dtype)
                    : manager.randomUniform(-boundA, boundA, new Shape(r, in), dtype);
            b = config.initLoraWeights() == LoraInit.RANDOM
                    ? manager.randomUniform((float) (-1 / Math.sqrt(r)), (float) (1 / Math.sqrt(r)), new Shape(out, r), dtype)
                    : manager.zeros(new Shape(out, r), dtype);
        }
        NDArray magnitude = null;
        if (config.useDora()) {
            // DoRA's m starts at the row norms of W + s·B·A (PEFT's DoraLinearLayer.update_layer), or is loaded
            magnitude = saved != null
                    ? TensorConversions.toNDArray(manager, saved.get(SavedModules.KEY_PREFIX + path + MAGNITUDE_KEY), dtype)
                    : LoraWeights.rowNorms(weight, a, b, config.scalingFor(path), manager);
        }
        return new LoraWeights(name, a, b, magnitude, config.scalingFor(path), config.loraDropout());
    }
}
