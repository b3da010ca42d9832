/**
 * LoRA on DJL: the targeted {@code Linear} layers, found by module path, are replaced by layers that
 * add s · B(A(dropout(x))) to the frozen layer's output, one pair of matrices per adapter. Adapters
 * merge into the base weights for inference at the base model's cost, and unmerge again. Applied
 * through {@link org.peft4j.djl.Peft#apply} with a {@link org.peft4j.api.lora.LoraConfig}.
 */
package org.peft4j.djl.lora;
