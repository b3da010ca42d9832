/**
 * PEFT for DJL: {@link org.peft4j.djl.Peft#apply} turns an existing DJL block tree into a
 * {@link org.peft4j.djl.PeftModel}, freezing the base weights and attaching LoRA, prompt- or
 * prefix-tuning adapters in place, so DJL's own {@code Trainer} and {@code EasyTrain} train them
 * unchanged. Blocks are addressed by Hugging Face's dotted module paths
 * ({@code encoder.layer.0.attention.self.query}); adapters are added, switched, disabled, merged and
 * saved in Hugging Face PEFT's files from here. Each method's layer and injection lives in its own
 * package ({@code lora}, {@code prompt}, {@code prefix}).
 */
package org.peft4j.djl;
