package org.peft4j.djl.internal;

import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;

/**
 * An adapter attached to a DJL block tree as weights on each targeted {@link AdaptedLinear}, plus
 * any whole modules ({@code modules_to_save}) it trains in place: what activating, merging and
 * removing such an adapter does, layer by layer, whatever the method. A method's subclass adds its
 * config and the keys its tensors are saved under.
 *
 * @param <T> one adapter's weights on one layer
 * @param <L> the method's layer
 */
public abstract class LayerAdapter<T, L extends AdaptedLinear<T>> implements AttachedAdapter {
    private final String name;
    private final Map<String, L> layers;
    private final SavedModules savedModules;

    /**
     * Creates the adapter over its layers.
     *
     * @param name the adapter's name
     * @param layers the layers that carry it, by module path
     * @param savedModules the whole modules it trains in place
     */
    protected LayerAdapter(String name, Map<String, L> layers, SavedModules savedModules) {
        this.name = name;
        this.layers = Collections.unmodifiableMap(new LinkedHashMap<>(layers));
        this.savedModules = savedModules;
    }

    /**
     * Puts this adapter's tensors on one layer into {@code out}, keyed as PEFT saves them.
     *
     * @param path the layer's module path
     * @param weights this adapter's weights on that layer
     * @param out the state dict being built
     */
    protected abstract void putTensors(String path, T weights, Map<String, Tensor> out);

    @Override
    public String name() {
        return name;
    }

    /** Returns the paths of the modules that carry this adapter's weights. */
    public Set<String> targetedModules() {
        return layers.keySet();
    }

    @Override
    public List<Parameter> trainableParameterList() {
        List<Parameter> out = new ArrayList<>();
        for (L layer : layers.values()) {
            out.addAll(layer.parametersOf(layer.adapters().get(name)));
        }
        out.addAll(savedModules.parameters());
        return out;
    }

    /** {@inheritDoc} Each layer's tensors ({@link #putTensors}), then the modules to save. */
    @Override
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        layers.forEach((path, layer) -> putTensors(path, layer.adapters().get(name), out));
        out.putAll(savedModules.stateDict());
        return out;
    }

    @Override
    public void setActive(boolean active) {
        for (L layer : layers.values()) {
            if (active) {
                layer.setActiveAdapter(name);
            } else if (layer.adapters().containsKey(name)) {
                layer.unmergeIfMerged(name);
                layer.setActiveAdapter(null);
            }
        }
    }

    @Override
    public void setDisabled(boolean disabled) {
        for (L layer : layers.values()) {
            layer.setDisabled(disabled);
        }
    }

    @Override
    public void merge() {
        layers.values().forEach(layer -> layer.merge());
    }

    @Override
    public void unmerge() {
        layers.values().forEach(layer -> layer.unmerge());
    }

    @Override
    public boolean isMerged() {
        return layers.values().stream().anyMatch(l -> name.equals(l.mergedAdapter()));
    }

    @Override
    public void remove(boolean keepMergedWeights) {
        for (L layer : layers.values()) {
            layer.removeAdapter(name, keepMergedWeights);
            if (layer.adapters().isEmpty()) {
                layer.unwrap();
            }
        }
        if (!keepMergedWeights) {
            savedModules.restore();
        }
    }
}
