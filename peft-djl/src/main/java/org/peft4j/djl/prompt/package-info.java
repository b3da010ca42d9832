/**
 * Prompt-tuning on DJL: trainable virtual-token embeddings placed in front of the input of a model
 * that accepts virtual tokens (such as the {@code bert} package's encoder), started at random, from
 * tokens drawn from the vocabulary, or from the embeddings of a text, as Hugging Face PEFT starts
 * them. Applied through {@link org.peft4j.djl.Peft#apply} with a
 * {@link org.peft4j.api.prompt.PromptTuningConfig}.
 */
package org.peft4j.djl.prompt;
