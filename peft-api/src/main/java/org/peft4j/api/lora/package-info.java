/**
 * LoRA (Hu et al. 2021): each targeted linear layer W gains two small trainable matrices, A [r, in]
 * and B [out, r], and computes W x + b + s · B(A(x)) with s = alpha / r (or alpha / sqrt(r) with
 * rsLoRA). {@link org.peft4j.api.lora.LoraConfig} holds the settings under Hugging Face PEFT's names
 * and defaults ({@code r}, {@code lora_alpha}, {@code lora_dropout}, {@code target_modules}, ...);
 * the frameworks' packages put the matrices on their layers.
 */
package org.peft4j.api.lora;
