package org.peft4j.djl.ia3;

import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.ia3.Ia3Adapter;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;

/**
 * An (IA)³ adapter attached to a DJL block tree: its vector on each targeted {@link Ia3Linear},
 * plus any whole modules ({@code modules_to_save}) it trains in place.
 */
final class DjlIa3Adapter implements Ia3Adapter, AttachedAdapter {
    private final String name;
    private final Ia3Config config;
    private final Map<String, Ia3Linear> layers;
    private final SavedModules savedModules;

    DjlIa3Adapter(String name, Ia3Config config, Map<String, Ia3Linear> layers, SavedModules savedModules) {
        this.name = name;
        this.config = config;
        this.layers = Collections.unmodifiableMap(new LinkedHashMap<>(layers));
        this.savedModules = savedModules;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Ia3Config config() {
        return config;
    }

    @Override
    public Set<String> targetedModules() {
        return layers.keySet();
    }

    @Override
    public List<Parameter> trainableParameterList() {
        List<Parameter> out = new ArrayList<>();
        for (Ia3Linear layer : layers.values()) {
            out.add(layer.adapters().get(name).l);
        }
        out.addAll(savedModules.parameters());
        return out;
    }

    /** {@inheritDoc} The vectors are saved as {@code base_model.model.<module path>.ia3_l}, as PEFT saves them. */
    @Override
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        layers.forEach((path, layer) -> out.put(Ia3Injector.key(path),
                TensorConversions.toTensor(layer.adapters().get(name).l.getArray())));
        out.putAll(savedModules.stateDict());
        return out;
    }

    @Override
    public void setActive(boolean active) {
        for (Ia3Linear layer : layers.values()) {
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
        for (Ia3Linear layer : layers.values()) {
            layer.setDisabled(disabled);
        }
    }

    @Override
    public void merge() {
        layers.values().forEach(Ia3Linear::merge);
    }

    @Override
    public void unmerge() {
        layers.values().forEach(Ia3Linear::unmerge);
    }

    @Override
    public boolean isMerged() {
        return layers.values().stream().anyMatch(l -> name.equals(l.mergedAdapter()));
    }

    @Override
    public void remove(boolean keepMergedWeights) {
        for (Ia3Linear layer : layers.values()) {
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
