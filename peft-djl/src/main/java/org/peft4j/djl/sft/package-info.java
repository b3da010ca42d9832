/**
 * Supervised fine-tuning of causal language models as LLaMA-Factory's {@code stage: sft} does it:
 * conversations printed with the model's chat template, prompt tokens left out of the loss, turns
 * cut to {@code cutoff_len}, and the task {@link org.peft4j.djl.sft.CausalLmTask} that
 * {@link org.peft4j.djl.train.FineTuning} runs.
 */
package org.peft4j.djl.sft;
