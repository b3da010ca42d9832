/**
 * Sentence embeddings ({@code FEATURE_EXTRACTION}) over any encoder family: a pooled, optionally
 * normalised {@link org.peft4j.djl.tasks.embedding.SentenceEmbedder} on a
 * {@link org.peft4j.djl.models.TextEncoder}, the pooling a sentence-transformers directory asks for
 * ({@link org.peft4j.djl.tasks.embedding.EmbeddingPooling}), and training on (anchor, positive)
 * pairs with in-batch negatives ({@link org.peft4j.djl.tasks.embedding.PairRankingTask},
 * {@link org.peft4j.djl.tasks.embedding.MultipleNegativesRankingLoss}), scored by retrieval
 * ({@link org.peft4j.djl.tasks.embedding.RetrievalMetrics}). Arrows go from here to the models, the
 * training run and the core, never back.
 */
package org.peft4j.djl.tasks.embedding;
