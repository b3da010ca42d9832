/**
 * The LLaMA family of causal language models ({@code model_type} {@code llama}, {@code mistral}
 * without an active sliding window, {@code qwen2}), registered once as a
 * {@link org.peft4j.djl.models.DecoderFamily}: pre-RMSNorm decoder layers, rotary positions in
 * transformers' {@code rotate_half} layout, grouped-query attention and a SiLU-gated MLP, with
 * transformers' module paths ({@code model.layers.0.self_attn.q_proj}, {@code lm_head}), so that
 * PEFT's adapters and target names carry over unchanged; it hosts prompt- and prefix-tuning as PEFT's
 * {@code PeftModelForCausalLM} does.
 */
package org.peft4j.djl.models.llama;
