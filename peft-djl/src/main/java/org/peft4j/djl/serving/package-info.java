/**
 * Fine-tuned peft4j models served the way DJL serves models: {@code Criteria} -> {@code ZooModel}
 * -> {@code Predictor<I, O>} with a {@code Translator}. A directory that {@code peft4j train} wrote
 * (an adapter and {@code peft4j_run.json}) or that {@code peft4j export} wrote (a whole model) loads
 * through DJL's own model loader: {@link org.peft4j.djl.serving.PeftBlockFactory} builds the model
 * from the directory's files and {@link org.peft4j.djl.serving.PeftTranslatorFactory} gives the
 * translator of the task, so a sequence classifier predicts with
 * {@code Predictor<String, Classifications>} and {@code batchPredict}, as DJL's Hugging Face
 * extension does. {@link org.peft4j.djl.serving.PeftCriteria} sets those factories on a
 * {@code Criteria} builder; {@link org.peft4j.djl.serving.PeftCriteria#writeServingProperties}
 * names the block factory in the directory's {@code serving.properties}, so that a plain
 * {@code Criteria} needs only the translator factory.
 *
 * <p>Language models ({@code CAUSAL_LM} adapters, and merged decoders as {@code peft4j export} writes
 * them) generate text: {@code Predictor<String, String>} gives the text that continues a prompt,
 * {@code batchPredict} generates for a batch of prompts at once (padded on the left), and
 * {@code Predictor<String, TextStream>} with DJL's {@code streamingPredict} hands the text on piece by
 * piece as the tokens are chosen ({@link org.peft4j.djl.serving.TextGenerationServing}; the model's
 * {@code generation_config.json} gives the settings, {@code Criteria} arguments such as
 * {@code max_new_tokens} or {@code do_sample} override them).
 *
 * <p>Tasks plug in through {@link org.peft4j.djl.serving.ServedTask}, a {@link java.util.ServiceLoader}
 * service: one implementation per {@code task_type}, each naming the input and output types it serves.
 */
package org.peft4j.djl.serving;
