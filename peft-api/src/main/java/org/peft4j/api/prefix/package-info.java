/**
 * Prefix-tuning (Li and Liang 2021): trainable key and value prefixes in front of every attention
 * layer's own keys and values, optionally produced by a small MLP while training (P-tuning v2).
 * {@link org.peft4j.api.prefix.PrefixTuningConfig} holds the settings under Hugging Face PEFT's names
 * ({@code num_virtual_tokens}, {@code prefix_projection}, ...); the whole base model stays frozen.
 */
package org.peft4j.api.prefix;
