package org.peft4j.api.lora.algebra;

import org.peft4j.api.safetensors.Tensor;

/**
 * A thin QR decomposition M = Q · R of an [m, n] matrix, as {@code torch.linalg.qr(M)} returns it
 * (mode "reduced"): Q [m, k] with orthonormal columns and R [k, n] upper triangular, k = min(m, n).
 * The signs of R's diagonal follow Householder's reflections and may be negative.
 *
 * @param q the orthonormal factor, [m, k]
 * @param r the upper-triangular factor, [k, n]
 */
public record Qr(Tensor q, Tensor r) {}
