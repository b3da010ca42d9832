package org.peft4j.djl.lora;

import java.util.Map;
import org.peft4j.api.lora.LoraAdapter;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.LayerAdapter;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;

/**
 * A LoRA adapter attached to a DJL block tree: its matrices on each targeted {@link LoraLinear},
 * plus any biases or whole modules ({@code modules_to_save}) it trains in place.
 */
final class DjlLoraAdapter extends LayerAdapter<LoraWeights, LoraLinear> implements LoraAdapter {
    private final LoraConfig config;

    DjlLoraAdapter(String name, LoraConfig config, Map<String, LoraLinear> layers, SavedModules savedModules) {
        super(name, layers, savedModules);
        this.config = config;
    }

    @Override
    public LoraConfig config() {
        return config;
    }

    /** {@inheritDoc} A and B as {@code <path>.lora_A.weight} and {@code .lora_B.weight}, and DoRA's magnitude. */
    @Override
    protected void putTensors(String path, LoraWeights w, Map<String, Tensor> out) {
        out.put(SavedModules.KEY_PREFIX + path + ".lora_A.weight", TensorConversions.toTensor(w.a.getArray()));
        out.put(SavedModules.KEY_PREFIX + path + ".lora_B.weight", TensorConversions.toTensor(w.b.getArray()));
        if (w.magnitude != null) {
            out.put(SavedModules.KEY_PREFIX + path + LoraInjector.MAGNITUDE_KEY,
                    TensorConversions.toTensor(w.magnitude.getArray()));
        }
    }
}
