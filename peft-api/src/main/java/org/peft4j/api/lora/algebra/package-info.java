/**
 * Linear algebra on LoRA adapters, framework-neutral and on {@link org.peft4j.api.safetensors.Tensor}s,
 * computed with Apache Commons Math: singular value and QR decompositions, with a randomized low-rank
 * SVD for large matrices ({@link org.peft4j.api.lora.algebra.LinearAlgebra}); Hugging Face PEFT's
 * {@code add_weighted_adapter} combinations ({@link org.peft4j.api.lora.algebra.WeightedAdapterMerge});
 * rank resizing ({@link org.peft4j.api.lora.algebra.LoraResize}) and LoRA extraction from a fully
 * fine-tuned model ({@link org.peft4j.api.lora.algebra.LoraExtraction}); the initialisations that
 * start from the base weight's decomposition, PiSSA and OLoRA, and the conversion of such an adapter
 * back to plain LoRA ({@link org.peft4j.api.lora.algebra.LoraDecompositionInit}). Arrows point from here to
 * the core packages ({@code lora}, {@code checkpoint}, {@code safetensors}), never back.
 */
package org.peft4j.api.lora.algebra;
