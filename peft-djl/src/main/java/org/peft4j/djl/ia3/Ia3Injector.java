package org.peft4j.djl.ia3;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.ia3.Ia3Config;
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
 * Puts an (IA)³ adapter on a DJL block tree: finds the targeted {@link Linear} layers by module
 * path, checks everything (targets, saved tensors and their shapes) before changing anything, then
 * wraps each target in an {@link Ia3Linear}, or adds the adapter to one that is already wrapped.
 */
public final class Ia3Injector implements DjlMethod {
    /** Creates the method's injector; {@link org.peft4j.djl.PeftModel} finds it as a service. */
    public Ia3Injector() {}

    @Override
    public PeftType peftType() {
        return PeftType.IA3;
    }

    @Override
    public AttachedAdapter attach(Block root, String name, PeftConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer) {
        return attach(root, name, (Ia3Config) config, saved);
    }

    /** The key PEFT saves a module's vector under: {@code base_model.model.<module path>.ia3_l}. */
    static String key(String path) {
        return SavedModules.KEY_PREFIX + path + ".ia3_l";
    }

    /**
     * Attaches an (IA)³ adapter to {@code root}, with vectors of ones (or random normal, with
     * {@code init_ia3_weights} false), or from {@code saved} tensors when they are given.
     *
     * @param root the model's root block, initialized
     * @param name the adapter's name, not yet used on this model
     * @param config the adapter's settings
     * @param saved the adapter's saved tensors, or null for a fresh adapter
     * @return the attached adapter, not yet active
     * @throws IllegalArgumentException if no module matches, a match is not a Linear layer (or is one
     *     another method already wraps), or a module to save does not exist; the model is then unchanged
     * @throws AdapterFormatException if {@code saved} lacks a tensor, has an extra one, or one of
     *     the wrong shape; the model is then unchanged
     */
    public static AttachedAdapter attach(Block root, String name, Ia3Config config, Map<String, Tensor> saved) {
        Map<String, ModuleTree.Node> nodes = ModuleTree.nodes(root);
        Map<String, ModuleTree.Node> targets = LayerInjection.findTargets(root, nodes, config, "IA3", Ia3Linear.class);
        SavedModules savedWhole = SavedModules.capture(SavedModules.find(nodes, config.modulesToSave(), PeftType.IA3));
        if (saved != null) {
            checkSavedTensors(targets, savedWhole, config, saved);
        }
        Map<String, Ia3Linear> layers = LayerInjection.addToLayers(targets, name, Ia3Linear.class, Ia3Linear::new,
                (layer, path, rollback) -> newVector(layer, path, name, config, saved), savedWhole, saved);
        return new DjlIa3Adapter(name, withFanInFanOut(config, targets), layers, savedWhole);
    }

    /**
     * The config with {@code fan_in_fan_out} true when a target is a {@code Conv1D} layer in the
     * Python model ({@link Conv1dLayers}), false otherwise, as PEFT sets it from the targets' type
     * ({@code peft/tuners/ia3/model.py}, {@code _create_new_module}); the vectors mean the same either way.
     */
    private static Ia3Config withFanInFanOut(Ia3Config config, Map<String, ModuleTree.Node> targets) {
        boolean conv1d = targets.values().stream().anyMatch(n -> n.parent instanceof Conv1dLayers);
        return conv1d == config.fanInFanOut() ? config : config.toBuilder().optFanInFanOut(conv1d).build();
    }

    /** PEFT's shape of a module's vector: [1, in] for a feed-forward module, [out, 1] otherwise. */
    private static long[] vectorShape(Shape weight, boolean feedforward) {
        return feedforward ? new long[] {1, weight.get(1)} : new long[] {weight.get(0), 1};
    }

    private static void checkSavedTensors(Map<String, ModuleTree.Node> targets, SavedModules savedWhole,
            Ia3Config config, Map<String, Tensor> saved) {
        List<String> problems = new ArrayList<>();
        targets.forEach((path, node) -> {
            Shape w = node.block.getDirectParameters().get("weight").getArray().getShape();
            boolean feedforward = config.isFeedforward(path);
            LayerInjection.checkTensor(saved, path, key(path), vectorShape(w, feedforward),
                    feedforward ? " (feed-forward: [1, in])" : " (not feed-forward: [out, 1])", problems);
        });
        savedWhole.check(saved, problems);
        TreeSet<String> unexpected = new TreeSet<>(saved.keySet());
        targets.keySet().forEach(path -> unexpected.remove(key(path)));
        savedWhole.keys().forEach(k -> {
            unexpected.remove(k);
            unexpected.remove(SavedModules.PROMPT_LEARNING_KEY_PREFIX + k.substring(SavedModules.KEY_PREFIX.length()));
        });
        LayerInjection.throwIfProblems(problems, unexpected);
    }

    private static Ia3Vector newVector(Ia3Linear layer, String path, String name, Ia3Config config,
            Map<String, Tensor> saved) {
        NDArray weight = layer.weight().getArray();
        NDManager manager = weight.getManager();
        DataType dtype = weight.getDataType();
        boolean feedforward = config.isFeedforward(path);
        Shape shape = new Shape(vectorShape(weight.getShape(), feedforward));
        NDArray l;
        if (saved != null) {
            l = TensorConversions.toNDArray(manager, saved.get(key(path)), dtype);
        } else if (config.initIa3Weights()) {
            l = manager.ones(shape, dtype);
        } else {
            l = manager.randomNormal(0, 1, shape, dtype);
        }
        return new Ia3Vector(name, l, feedforward);
    }
}
