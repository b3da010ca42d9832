/**
 * Text generation with any {@link org.peft4j.djl.models.CausalLanguageModel}, as transformers'
 * {@code generate()} does it for decoder-only models: greedy or sampled decoding over a key/value
 * cache ({@link org.peft4j.djl.generation.Generator}), the logits processors in transformers' order
 * ({@link org.peft4j.djl.generation.LogitsProcessing}), settings named and defaulted as in
 * {@code generation_config.json} ({@link org.peft4j.djl.generation.GenerationConfig}), streaming
 * ({@link org.peft4j.djl.generation.TokenListener}) and the tokenizer between text and ids
 * ({@link org.peft4j.djl.generation.GenerationTokenizer}). Arrows go from here to
 * {@code org.peft4j.djl.models}, never back.
 */
package org.peft4j.djl.generation;
