package org.peft4j.api.lora;

/**
 * How a new LoRA adapter's matrices start, as Hugging Face PEFT's {@code init_lora_weights}
 * chooses it. The first two start with B = 0, so a fresh adapter leaves the model's output
 * unchanged.
 */
public enum LoraInit {
    /** A kaiming-uniform (a = sqrt 5), B = 0: {@code init_lora_weights: true}, the default. */
    KAIMING_UNIFORM,
    /** A gaussian with standard deviation 1/r, B = 0: {@code init_lora_weights: "gaussian"}. */
    GAUSSIAN,
    /**
     * A kaiming-uniform and B random too, so the fresh adapter already changes the output:
     * {@code init_lora_weights: false}, meant for tests and debugging.
     */
    RANDOM
}
