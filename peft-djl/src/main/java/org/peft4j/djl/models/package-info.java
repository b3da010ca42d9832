/**
 * Model families as folders, as transformers' {@code models/<family>/}: each subpackage
 * ({@code bert}, {@code roberta}, {@code distilbert}, ...) builds a Hugging Face-compatible encoder from DJL blocks and registers itself
 * once as an {@link org.peft4j.djl.models.EncoderFamily}; {@link org.peft4j.djl.models.EncoderFamilies}
 * picks one by {@code config.json}'s {@code model_type}. Arrows go from a family to this package,
 * never back.
 */
package org.peft4j.djl.models;
