package org.peft4j.api.lora.algebra;

import org.peft4j.api.safetensors.Tensor;

/**
 * A LoRA layer's start from a decomposition of its base weight W (PiSSA, OLoRA): the matrices A
 * and B, and the residual weight W_res = W − s·B·A that replaces W, so that W_res + s·B·A = W.
 *
 * @param a the down projection A [r, in]
 * @param b the up projection B [out, r]
 * @param residual the new base weight W_res [out, in]
 */
public record DecomposedInit(Tensor a, Tensor b, Tensor residual) {}
