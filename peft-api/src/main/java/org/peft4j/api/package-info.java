/**
 * The framework-neutral core of peft4j: what a PEFT method is ({@link org.peft4j.api.PeftConfig},
 * {@link org.peft4j.api.PeftType}), what an attached adapter holds ({@link org.peft4j.api.Adapter}), the
 * task it serves ({@link org.peft4j.api.TaskType}), how module names in a config match the paths of a
 * model, and the trainable-parameter report Hugging Face PEFT prints. Nothing here depends on DJL or
 * Tribuo: the method packages ({@code lora}, {@code prefix}, {@code prompt}) hold each method's
 * settings, and {@code checkpoint} and {@code safetensors} read and write the files.
 */
package org.peft4j.api;
