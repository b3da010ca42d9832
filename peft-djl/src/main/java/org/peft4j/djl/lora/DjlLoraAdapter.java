package org.peft4j.djl.lora;

import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.lora.LoraAdapter;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;

/**
 * A LoRA adapter attached to a DJL block tree: its matrices on each targeted {@link LoraLinear},
 * plus any biases or whole modules ({@code modules_to_save}) it trains in place.
 */
final class DjlLoraAdapter implements LoraAdapter, AttachedAdapter {
    private final String name;
    private final LoraConfig config;
    private final Map<String, LoraLinear> layers;
    private final SavedModules savedModules;

    DjlLoraAdapter(String name, LoraConfig config, Map<String, LoraLinear> layers, SavedModules savedModules) {
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
    public LoraConfig config() {
        return config;
    }

    @Override
    public Set<String> targetedModules() {
        return layers.keySet();
    }

    @Override
    public List<Parameter> trainableParameterList() {
        List<Parameter> out = new ArrayList<>();
        for (LoraLinear layer : layers.values()) {
            LoraWeights w = layer.adapters().get(name);
            out.add(w.a);
            out.add(w.b);
            if (w.magnitude != null) {
                out.add(w.magnitude);
            }
        }
        out.addAll(savedModules.parameters());
        return out;
    }

    @Override
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        layers.forEach((path, layer) -> {
            LoraWeights w = layer.adapters().get(name);
            out.put(SavedModules.KEY_PREFIX + path + ".lora_A.weight", TensorConversions.toTensor(w.a.getArray()));
            out.put(SavedModules.KEY_PREFIX + path + ".lora_B.weight", TensorConversions.toTensor(w.b.getArray()));
            if (w.magnitude != null) {
                out.put(SavedModules.KEY_PREFIX + path + LoraInjector.MAGNITUDE_KEY,
                        TensorConversions.toTensor(w.magnitude.getArray()));
            }
        });
        out.putAll(savedModules.stateDict());
        return out;
    }

    @Override
    public void setActive(boolean active) {
        for (LoraLinear layer : layers.values()) {
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
        for (LoraLinear layer : layers.values()) {
            layer.setDisabled(disabled);
        }
    }

    @Override
    public void merge() {
        layers.values().forEach(LoraLinear::merge);
    }

    @Override
    public void unmerge() {
        layers.values().forEach(LoraLinear::unmerge);
    }

    @Override
    public boolean isMerged() {
        return layers.values().stream().anyMatch(l -> name.equals(l.mergedAdapter()));
    }

    @Override
    public void remove(boolean keepMergedWeights) {
        for (LoraLinear layer : layers.values()) {
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
