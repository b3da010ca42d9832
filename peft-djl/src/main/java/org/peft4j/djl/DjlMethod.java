package org.peft4j.djl;

import ai.djl.nn.Block;
import java.util.Map;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.safetensors.Tensor;

/**
 * How one PEFT method attaches to a DJL block tree. A method's DJL package implements it and
 * registers it once, by one line in {@code META-INF/services/org.peft4j.djl.DjlMethod};
 * {@link PeftModel} finds it by the config's {@code peft_type} and knows no method by name.
 */
public interface DjlMethod {
    /** The {@code peft_type} this attaches. */
    PeftType peftType();

    /**
     * Attaches an adapter named {@code name} for {@code config} to the tree under {@code root},
     * fresh or from {@code saved} tensors (keyed as PEFT saves them), without making it active.
     *
     * @param tokenizer the model's tokenizer, for methods that start from a text (or null)
     * @throws IllegalArgumentException if the config or the saved tensors do not fit the model;
     *     the model is then unchanged
     */
    AttachedAdapter attach(Block root, String name, PeftConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer);
}
