/**
 * The RoBERTa family ({@code model_type} {@code roberta}, {@code xlm-roberta}, {@code camembert}),
 * as transformers' {@code models/roberta/}: BERT's layers (reused from
 * {@link org.peft4j.djl.models.bert}) under embeddings whose positions start after the padding id,
 * and {@code RobertaForSequenceClassification}'s head. Registered once as
 * {@link org.peft4j.djl.models.roberta.RobertaFamily}.
 */
package org.peft4j.djl.models.roberta;
