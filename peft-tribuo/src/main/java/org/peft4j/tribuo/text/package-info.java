/**
 * Transformer fine-tuning as Tribuo trainers: {@link org.peft4j.tribuo.text.TextPeftTrainer} adapts a
 * pretrained encoder from peft-djl's {@code bert} package (such as all-MiniLM-L6-v2) with LoRA,
 * prefix- or prompt-tuning on Tribuo examples of text, and returns a Tribuo model that predicts,
 * evaluates, serializes and records its provenance like any other.
 */
package org.peft4j.tribuo.text;
