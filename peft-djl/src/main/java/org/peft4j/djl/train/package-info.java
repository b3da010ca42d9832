/**
 * Fine-tuning a PEFT-wrapped text model with DJL's own {@code Trainer}: AdamW, Hugging Face's warm-up
 * and decay schedules, gradient clipping by global norm and accumulation, evaluation after each
 * epoch with accuracy and macro F1, and LLaMA-Factory's {@code trainer_log.jsonl} and
 * {@code training_loss.png}, so a run can be followed and compared with a Python one.
 * {@link org.peft4j.djl.train.TextTraining} runs it all.
 */
package org.peft4j.djl.train;
