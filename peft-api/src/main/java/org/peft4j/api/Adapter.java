package org.peft4j.api;

import java.util.Map;
import org.peft4j.api.safetensors.Tensor;

/**
 * One named set of trainable PEFT weights attached to a model: its config, its size, and its
 * tensors under the keys Hugging Face PEFT uses in {@code adapter_model.safetensors}.
 */
public interface Adapter {
    /** Returns the adapter's name, unique within its model ({@code "default"} unless chosen). */
    String name();

    /** Returns the settings the adapter was made with. */
    PeftConfig config();

    /** Returns the number of trainable scalars the adapter adds. */
    long trainableParameterCount();

    /**
     * Returns the adapter's current weights as they are saved, keyed as Hugging Face PEFT keys them
     * (for example {@code base_model.model.encoder.layer.0.attention.self.query.lora_A.weight}).
     */
    Map<String, Tensor> stateDict();
}
