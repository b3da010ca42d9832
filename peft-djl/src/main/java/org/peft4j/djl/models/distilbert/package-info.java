/**
 * The DistilBERT family ({@code model_type} {@code distilbert}), as transformers'
 * {@code models/distilbert/}: its embeddings (no token types), its transformer blocks under
 * Hugging Face's names ({@code q_lin}, {@code v_lin}, {@code sa_layer_norm}, {@code ffn.lin1}, ...)
 * and {@code DistilBertForSequenceClassification}'s head. Registered once as
 * {@link org.peft4j.djl.models.distilbert.DistilBertFamily}.
 */
package org.peft4j.djl.models.distilbert;
