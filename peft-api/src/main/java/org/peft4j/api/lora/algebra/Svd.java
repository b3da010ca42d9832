package org.peft4j.api.lora.algebra;

import org.peft4j.api.safetensors.Tensor;

/**
 * A (possibly truncated) singular value decomposition M ≈ U · diag(S) · Vᵀ with the singular values
 * in descending order, as {@code torch.linalg.svd(M, full_matrices=False)} returns it (U, S, Vh).
 *
 * @param u the left singular vectors as columns, [rows, k]
 * @param s the singular values, descending, [k]
 * @param vt the right singular vectors as rows, [k, cols]
 */
public record Svd(Tensor u, Tensor s, Tensor vt) {
    /** Returns the number k of singular triplets held. */
    public int rank() {
        return Math.toIntExact(s.shape()[0]);
    }
}
