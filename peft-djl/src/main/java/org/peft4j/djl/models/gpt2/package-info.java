/**
 * The GPT-2 decoder ({@code model_type} {@code gpt2}) built from DJL blocks that computes what
 * transformers' {@code GPT2LMHeadModel} computes, with its module paths
 * ({@code transformer.h.0.attn.c_attn}, ...), so that PEFT's default LoRA target for GPT-2
 * ({@code c_attn}) and its adapter keys carry over unchanged. transformers' {@code Conv1D} layers
 * are DJL {@code Linear} layers here, their [in, out] checkpoint weights transposed on load
 * ({@link org.peft4j.djl.models.gpt2.Gpt2Family}, registered as a
 * {@link org.peft4j.djl.models.DecoderFamily}). The model hosts prompt- and prefix-tuning as PEFT's
 * {@code PeftModelForCausalLM} runs them on GPT-2 (learned positions 0 to n - 1 for a prompt's
 * vectors; prefixes of {@code n_embd} per block, the real tokens numbered after them).
 */
package org.peft4j.djl.models.gpt2;
