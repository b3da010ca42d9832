/**
 * Token classification ({@code TOKEN_CLS}, such as named-entity recognition) over an encoder of any
 * family, as Hugging Face does it: {@link org.peft4j.djl.tasks.tagging.TokenClassifier} (dropout and a
 * linear {@code classifier} on every token), labels aligned to sub-word tokens
 * ({@link org.peft4j.djl.tasks.tagging.WordTokenizer}, first token of each word, others ignored),
 * the per-token cross-entropy, seqeval's entity metrics
 * ({@link org.peft4j.djl.tasks.tagging.TaggingMetrics}) and the task a fine-tuning run trains
 * ({@link org.peft4j.djl.tasks.tagging.TaggingTask}). The package depends on the models, train and
 * core packages only.
 */
package org.peft4j.djl.tasks.tagging;
