package org.peft4j.api.lora;

import java.util.Locale;

/** Which biases train alongside a LoRA adapter, as Hugging Face PEFT's {@code bias} names it. */
public enum LoraBias {
    /** No bias trains (the default). */
    NONE,
    /** Every bias of the model trains. */
    ALL,
    /** Only the biases of the layers that carry LoRA train. */
    LORA_ONLY;

    /** Returns the name written in {@code adapter_config.json}: none, all or lora_only. */
    public String jsonName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Returns the value {@code adapter_config.json} names.
     *
     * @throws IllegalArgumentException for any name but none, all and lora_only
     */
    public static LoraBias fromJsonName(String name) {
        for (LoraBias bias : values()) {
            if (bias.jsonName().equals(name)) {
                return bias;
            }
        }
        throw new IllegalArgumentException("bias must be one of none, all, lora_only; got " + org.peft4j.api.internal.Excerpt.quote(name));
    }
}
