/**
 * PEFT for Tribuo: {@link org.peft4j.tribuo.TribuoPeft} turns a pretrained Tribuo model into a
 * {@code Trainer} that adapts it to new data, so the adapted model trains, evaluates and records its
 * provenance as every other Tribuo model does. LoRA and warm starts for Tribuo's SGD models are in
 * {@code lora} and {@code sgd}; transformer fine-tuning as Tribuo trainers is in {@code text}.
 */
package org.peft4j.tribuo;
