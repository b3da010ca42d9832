/**
 * Prompt-tuning (Lester et al. 2021): a few trainable virtual-token embeddings placed in front of the
 * input's word embeddings, the attention mask extended to cover them, the whole base model frozen.
 * {@link org.peft4j.api.prompt.PromptTuningConfig} holds the settings under Hugging Face PEFT's names
 * ({@code num_virtual_tokens}, {@code prompt_tuning_init}, {@code prompt_tuning_init_text}).
 */
package org.peft4j.api.prompt;
