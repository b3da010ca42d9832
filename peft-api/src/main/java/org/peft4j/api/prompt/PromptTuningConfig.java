package org.peft4j.api.prompt;

import java.util.List;
import java.util.Objects;
import org.peft4j.api.ModelDimensions;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.TaskType;

/**
 * The settings of prompt-tuning: {@code num_virtual_tokens} trainable embeddings P [n, hidden]
 * placed in front of the input's word embeddings, the attention mask extended by n ones.
 *
 * @param numVirtualTokens n, positive
 * @param promptTuningInit how P starts
 * @param promptTuningInitText the text whose embeddings start P; required with TEXT
 * @param tokenizerNameOrPath the tokenizer for the init text, or null
 * @param tokenDim the model's hidden size, filled in when the adapter is attached; null before
 * @param numLayers the model's layer count, filled in when attached; null before
 * @param numAttentionHeads the model's head count, filled in when attached; null before
 * @param modulesToSave modules (such as a classification head) trained whole and saved with the adapter
 * @param taskType the task, or null
 * @param baseModelNameOrPath the base model's name or path, or null
 * @param inferenceMode whether the adapter is frozen for inference
 */
public record PromptTuningConfig(
        int numVirtualTokens,
        PromptTuningInit promptTuningInit,
        String promptTuningInitText,
        String tokenizerNameOrPath,
        Integer tokenDim,
        Integer numLayers,
        Integer numAttentionHeads,
        List<String> modulesToSave,
        TaskType taskType,
        String baseModelNameOrPath,
        boolean inferenceMode)
        implements PeftConfig {

    /** Validates every field. */
    public PromptTuningConfig {
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        Objects.requireNonNull(promptTuningInit, "prompt_tuning_init");
        if (promptTuningInit == PromptTuningInit.TEXT && (promptTuningInitText == null || promptTuningInitText.isBlank())) {
            throw new IllegalArgumentException("prompt_tuning_init TEXT needs a non-blank prompt_tuning_init_text");
        }
        ModelDimensions.check(tokenDim, numLayers, numAttentionHeads);
        modulesToSave = List.copyOf(modulesToSave == null ? List.of() : modulesToSave);
    }

    /** Returns a builder with Hugging Face PEFT's defaults (RANDOM init); n must be set. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public PeftType peftType() {
        return PeftType.PROMPT_TUNING;
    }

    /** Returns a copy with the model's dimensions recorded, as they are when the adapter is attached. */
    public PromptTuningConfig withModelDimensions(int tokenDim, int numLayers, int numAttentionHeads) {
        return new PromptTuningConfig(numVirtualTokens, promptTuningInit, promptTuningInitText, tokenizerNameOrPath,
                tokenDim, numLayers, numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    /** Returns a copy with {@code tokenizer_name_or_path} set as given. */
    public PromptTuningConfig withTokenizerNameOrPath(String tokenizerNameOrPath) {
        return new PromptTuningConfig(numVirtualTokens, promptTuningInit, promptTuningInitText, tokenizerNameOrPath,
                tokenDim, numLayers, numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PromptTuningConfig withInferenceMode(boolean inferenceMode) {
        return new PromptTuningConfig(numVirtualTokens, promptTuningInit, promptTuningInitText, tokenizerNameOrPath,
                tokenDim, numLayers, numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PromptTuningConfig withModulesToSave(List<String> modules) {
        return new PromptTuningConfig(numVirtualTokens, promptTuningInit, promptTuningInitText, tokenizerNameOrPath,
                tokenDim, numLayers, numAttentionHeads, modules, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PromptTuningConfig withTaskType(TaskType taskType) {
        return new PromptTuningConfig(numVirtualTokens, promptTuningInit, promptTuningInitText, tokenizerNameOrPath,
                tokenDim, numLayers, numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    /** A builder of {@link PromptTuningConfig}. */
    public static final class Builder {
        private int numVirtualTokens;
        private PromptTuningInit init = PromptTuningInit.RANDOM;
        private String initText;
        private String tokenizerNameOrPath;
        private Integer tokenDim;
        private Integer numLayers;
        private Integer numAttentionHeads;
        private List<String> modulesToSave = List.of();
        private TaskType taskType;
        private String baseModelNameOrPath;
        private boolean inferenceMode;

        private Builder() {}

        /** Sets the number of virtual tokens n. */
        public Builder setNumVirtualTokens(int n) {
            this.numVirtualTokens = n;
            return this;
        }

        /** Sets how the virtual tokens start (default RANDOM). */
        public Builder optPromptTuningInit(PromptTuningInit init) {
            this.init = init;
            return this;
        }

        /** Starts the virtual tokens from this text's word embeddings (sets init to TEXT). */
        public Builder optPromptTuningInitText(String text) {
            this.init = PromptTuningInit.TEXT;
            this.initText = text;
            return this;
        }

        /** Records the tokenizer used for the init text. */
        public Builder optTokenizerNameOrPath(String tokenizerNameOrPath) {
            this.tokenizerNameOrPath = tokenizerNameOrPath;
            return this;
        }

        /** Records the model's dimensions (normally filled in when the adapter is attached). */
        public Builder optModelDimensions(Integer tokenDim, Integer numLayers, Integer numAttentionHeads) {
            this.tokenDim = tokenDim;
            this.numLayers = numLayers;
            this.numAttentionHeads = numAttentionHeads;
            return this;
        }

        /** Trains these modules whole (such as a new classification head) and saves them with the adapter. */
        public Builder optModulesToSave(String... names) {
            this.modulesToSave = List.of(names);
            return this;
        }

        /** Sets the task type. */
        public Builder optTaskType(TaskType taskType) {
            this.taskType = taskType;
            return this;
        }

        /** Records the base model's name or path. */
        public Builder optBaseModelNameOrPath(String baseModelNameOrPath) {
            this.baseModelNameOrPath = baseModelNameOrPath;
            return this;
        }

        /** Marks the adapter as inference-only. */
        public Builder optInferenceMode(boolean inferenceMode) {
            this.inferenceMode = inferenceMode;
            return this;
        }

        /** Returns the validated config. */
        public PromptTuningConfig build() {
            return new PromptTuningConfig(numVirtualTokens, init, initText, tokenizerNameOrPath, tokenDim, numLayers,
                    numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
        }
    }
}
