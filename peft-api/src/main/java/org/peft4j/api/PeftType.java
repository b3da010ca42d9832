package org.peft4j.api;

/** The PEFT methods, named as Hugging Face PEFT writes them in {@code adapter_config.json}. */
public enum PeftType {
    /** Low-rank adaptation of linear layers (Hu et al. 2021). */
    LORA,
    /** Trainable virtual-token embeddings in front of the input (Lester et al. 2021). */
    PROMPT_TUNING,
    /** Trainable key and value prefixes in every attention layer (Li and Liang 2021). */
    PREFIX_TUNING,
    /** Learned vectors rescaling keys, values and feed-forward inputs, (IA)³ (Liu et al. 2022). */
    IA3
}
