package org.peft4j.djl.internal;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.TargetingConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.TaskModel;

/**
 * The steps that every method putting its weights on {@link Linear} layers takes to attach an
 * adapter: find the targeted layers, check the saved tensors, then wrap each target in the
 * method's {@link AdaptedLinear} (or reuse the one already there) and add the adapter to it, all
 * or nothing.
 */
public final class LayerInjection {
    private LayerInjection() {}

    /**
     * Makes one adapter's weights for one layer.
     *
     * @param <T> one adapter's weights on one layer
     * @param <L> the method's layer
     */
    @FunctionalInterface
    public interface WeightsFactory<T, L> {
        /**
         * Returns the adapter's weights on {@code layer}.
         *
         * @param layer the layer, already wrapped
         * @param path the layer's module path
         * @param rollback where to add the steps that undo any change this makes to the model
         * @return the weights
         */
        T create(L layer, String path, List<Runnable> rollback);
    }

    /**
     * Returns the Linear layers that {@code config} targets, by module path.
     *
     * @param nodes the model's modules by path
     * @param root the model, whose output layer {@code all-linear} leaves out ({@link TaskModel#outputLayerPath()})
     * @param config the adapter's settings
     * @param method the method's name in messages ({@code "LoRA"})
     * @param ownLayer the method's layer, when the method cannot share a layer with another method's
     *     layer and refuses one; null when it wraps any Linear
     * @return the targets, in tree order
     * @throws IllegalArgumentException if no module matches, a match is not a Linear layer, or
     *     (with {@code ownLayer}) is one that another method adapts
     * @throws IllegalStateException if a targeted Linear layer is not initialized
     */
    public static Map<String, ModuleTree.Node> findTargets(Block root, Map<String, ModuleTree.Node> nodes,
            TargetingConfig config, String method, Class<? extends AdaptedLinear<?>> ownLayer) {
        // PEFT 0.21 peft/tuners/tuners_utils.py 2465: all-linear excludes get_output_embeddings()
        String outputLayer = config.targetModules().isAllLinear() && root instanceof TaskModel task
                ? task.outputLayerPath().orElse(null) : null;
        Map<String, ModuleTree.Node> targets = new LinkedHashMap<>();
        List<String> notLinear = new ArrayList<>();
        for (Map.Entry<String, ModuleTree.Node> e : nodes.entrySet()) {
            String path = e.getKey();
            Block block = e.getValue().block;
            if (!config.isTargeted(path) || path.equals(outputLayer)) {
                continue;
            }
            if (ownLayer != null && block instanceof Linear && !ownLayer.isInstance(block)
                    && block.getClass() != Linear.class) {
                // another method's layer: its forward computes W x + b itself, so one of the two would be lost
                throw new IllegalArgumentException("module " + path + " is already adapted by another method ("
                        + block.getClass().getSimpleName() + "); " + method + " cannot share a layer with it (Hugging"
                        + " Face PEFT refuses adapters of different peft types on one model)");
            }
            if (block instanceof Linear) {
                Parameter weight = block.getDirectParameters().get("weight");
                if (weight == null || !weight.isInitialized()) {
                    throw new IllegalStateException("module " + path + " (Linear) is not initialized; initialize the model"
                            + " (block.initialize(manager, dataType, inputShapes), or load it) before applying " + method);
                }
                targets.put(path, e.getValue());
            } else if (!config.targetModules().isAllLinear()) {
                notLinear.add(path + " (" + block.getClass().getSimpleName() + ")");
            }
        }
        if (!notLinear.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + config.targetModules()
                    + " matched modules that are not Linear layers, and " + method + " applies to Linear layers only: "
                    + notLinear);
        }
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("target_modules " + config.targetModules()
                    + (config.excludeModules() != null ? " (excluding " + config.excludeModules() + ")" : "")
                    + " matched no Linear layer. The model's modules are: " + SavedModules.describe(nodes));
        }
        return targets;
    }

    /**
     * Adds a problem if {@code saved} lacks the tensor {@code key} of {@code module}, holds it in
     * another shape than {@code shape}, or in a type that is not floating point.
     *
     * @param saved the adapter's saved tensors
     * @param module the module path the tensor belongs to, for the message
     * @param key the tensor's key
     * @param shape the expected shape
     * @param shapeNote words put after the expected shape in the message, as {@code " (feed-forward)"}; may be empty
     * @param problems where to add the problem
     */
    public static void checkTensor(Map<String, Tensor> saved, String module, String key, long[] shape,
            String shapeNote, List<String> problems) {
        Tensor t = saved.get(key);
        if (t == null) {
            problems.add("module " + module + ": the adapter has no tensor \"" + key + "\"");
        } else if (!Arrays.equals(t.shape(), shape)) {
            problems.add("module " + module + ": \"" + key + "\" expected shape " + Arrays.toString(shape) + shapeNote
                    + ", found " + Arrays.toString(t.shape()));
        } else if (!t.dtype().isFloatingPoint()) {
            problems.add("module " + module + ": \"" + key + "\" has dtype " + t.dtype()
                    + ", expected a floating-point type");
        }
    }

    /**
     * Throws if the checks found problems or the adapter has tensors that match no module.
     *
     * @param problems what the checks found
     * @param unexpected the saved keys that match no module, sorted
     * @throws AdapterFormatException listing every problem
     */
    public static void throwIfProblems(List<String> problems, Set<String> unexpected) {
        if (!unexpected.isEmpty()) {
            problems.add("tensors that match no module of this model: " + unexpected);
        }
        if (!problems.isEmpty()) {
            throw new AdapterFormatException("the adapter does not fit this model: " + String.join("; ", problems));
        }
    }

    /**
     * Adds the adapter {@code name} to each target, wrapping in {@code wrap}'s layer every target not
     * yet of {@code layerType}, then loads the saved whole modules if {@code saved} is given. On
     * failure everything done so far is undone, last first, and the exception thrown again.
     *
     * @param targets the targeted Linear layers, checked
     * @param name the adapter's name
     * @param layerType the method's layer
     * @param wrap makes the method's layer around a Linear layer
     * @param weights makes the adapter's weights on each layer
     * @param savedWhole the modules the adapter trains whole
     * @param saved the adapter's saved tensors, checked, or null for a fresh adapter
     * @param <T> one adapter's weights on one layer
     * @param <L> the method's layer
     * @return the layers that carry the adapter, by module path
     */
    public static <T, L extends AdaptedLinear<T>> Map<String, L> addToLayers(Map<String, ModuleTree.Node> targets,
            String name, Class<L> layerType, Function<Linear, L> wrap, WeightsFactory<T, L> weights,
            SavedModules savedWhole, Map<String, Tensor> saved) {
        Map<String, L> layers = new LinkedHashMap<>();
        List<Runnable> rollback = new ArrayList<>();
        try {
            for (Map.Entry<String, ModuleTree.Node> e : targets.entrySet()) {
                String path = e.getKey();
                Linear linear = (Linear) e.getValue().block;
                L layer;
                if (layerType.isInstance(linear)) {
                    layer = layerType.cast(linear);
                } else {
                    layer = wrap.apply(linear);
                    BlockSurgery.Undo undo = BlockSurgery.replace(e.getValue().parent, linear, layer);
                    layer.wrappedBy(undo);
                    rollback.add(layer::unwrap);
                }
                layer.addAdapter(name, weights.create(layer, path, rollback));
                rollback.add(() -> layer.removeAdapter(name, false));
                layers.put(path, layer);
            }
            if (saved != null) {
                rollback.add(savedWhole::restore);
                savedWhole.load(saved);
            }
            return layers;
        } catch (RuntimeException e) {
            for (int i = rollback.size() - 1; i >= 0; i--) {
                try {
                    rollback.get(i).run();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }
}
