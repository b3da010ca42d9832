package org.peft4j.djl;

import ai.djl.nn.Block;

/**
 * Marks a block whose {@code Linear} children are, in the Python model, transformers'
 * {@code Conv1D} layers (GPT-2's {@code attn.c_attn}, {@code attn.c_proj}, {@code mlp.c_fc},
 * {@code mlp.c_proj}): the same y = x Wᵀ + b, but with W stored [in, out] in checkpoints. The
 * family's loader transposes those weights into DJL's [out, in]; LoRA's A [r, in] and B [out, r]
 * mean what they mean on any linear layer, and an adapter on such layers records PEFT's
 * {@code fan_in_fan_out: true}, as PEFT sets it for {@code Conv1D} targets.
 */
public interface Conv1dLayers extends Block {}
