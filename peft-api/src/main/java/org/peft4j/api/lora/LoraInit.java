package org.peft4j.api.lora;

/**
 * How a new LoRA adapter's matrices start, as Hugging Face PEFT's {@code init_lora_weights}
 * chooses it. The first two start with B = 0, so a fresh adapter leaves the model's output
 * unchanged. PiSSA and OLoRA start A and B from a decomposition of the base weight W and replace W
 * by W_res = W − s·B·A, so the model's output is unchanged too, but the base weights are not
 * (see {@code org.peft4j.api.lora.algebra.LoraDecompositionInit}).
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
    RANDOM,
    /**
     * PiSSA (Meng et al. 2024): B = U_r √(S_r / s), A = √(S_r / s) Vᵀ_r from the exact SVD of W:
     * {@code init_lora_weights: "pissa"}.
     */
    PISSA,
    /**
     * PiSSA from a randomized SVD with {@link LoraConfig#pissaNiter()} subspace iterations, as
     * {@code torch.svd_lowrank} computes it: {@code init_lora_weights: "pissa_niter_N"}.
     */
    PISSA_NITER,
    /** OLoRA (Büyükakyüz 2024): B = Q_r, A = R_r from the QR decomposition of W: {@code init_lora_weights: "olora"}. */
    OLORA
}
