package org.peft4j.api;

import java.util.Map;

/**
 * One PEFT method as the framework-neutral API knows it: its {@code peft_type}, its config class,
 * how its config is read from and written to {@code adapter_config.json}, and the settings the
 * command and the training helpers need (LLaMA-Factory's {@code finetuning_type} name, a default
 * learning rate). A method lives in its own package (as Hugging Face PEFT's
 * {@code tuners/<method>/}) and is registered once, by one line naming its implementation in
 * {@code META-INF/services/org.peft4j.api.PeftMethod}; {@link PeftMethods} finds it there.
 */
public interface PeftMethod {
    /** The method's {@code peft_type}. */
    PeftType peftType();

    /** The method's config class. */
    Class<? extends PeftConfig> configClass();

    /**
     * Reads the method's config from an {@code adapter_config.json} object: the common keys
     * ({@link ConfigFields#taskType()}, ...) and the method's own.
     *
     * @throws AdapterFormatException or IllegalArgumentException naming the bad key
     */
    PeftConfig fromJson(ConfigFields fields);

    /**
     * Writes the method's own keys of {@code config} (one of {@link #configClass()}) into
     * {@code out}; the common keys are written for every method by the caller.
     */
    void toJson(PeftConfig config, Map<String, Object> out);

    /**
     * Whether the method is prompt learning (Hugging Face PEFT's {@code PromptLearningConfig}): it
     * leaves the base model unwrapped, so its {@code modules_to_save} are saved under
     * {@code base_model.} rather than {@code base_model.model.}.
     */
    boolean isPromptLearning();

    /** The method's name in LLaMA-Factory's {@code finetuning_type}, as the command takes it. */
    String finetuningType();

    /**
     * The learning rate the command and the examples start from: the method's own scale (a
     * prompt's few vectors want a rate several times LoRA's).
     */
    double defaultLearningRate();
}
