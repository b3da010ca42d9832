package org.peft4j.api.prefix;

import java.util.List;
import org.peft4j.api.ModelDimensions;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.TaskType;

/**
 * The settings of prefix-tuning: trainable key and value prefixes [n, hidden] for every attention
 * layer, attended to before the input's own keys and values; optionally produced during training
 * by a two-layer MLP (P-tuning v2's {@code prefix_projection}).
 *
 * @param numVirtualTokens n, positive
 * @param prefixProjection whether an MLP produces the prefixes during training
 * @param encoderHiddenSize the MLP's hidden width; null means the model's hidden size
 * @param tokenDim the model's hidden size, filled in when the adapter is attached; null before
 * @param numLayers the model's layer count, filled in when attached; null before
 * @param numAttentionHeads the model's head count, filled in when attached; null before
 * @param modulesToSave modules (such as a classification head) trained whole and saved with the adapter
 * @param taskType the task, or null
 * @param baseModelNameOrPath the base model's name or path, or null
 * @param inferenceMode whether the adapter is frozen for inference
 */
public record PrefixTuningConfig(
        int numVirtualTokens,
        boolean prefixProjection,
        Integer encoderHiddenSize,
        Integer tokenDim,
        Integer numLayers,
        Integer numAttentionHeads,
        List<String> modulesToSave,
        TaskType taskType,
        String baseModelNameOrPath,
        boolean inferenceMode)
        implements PeftConfig {

    /** Validates every field. */
    public PrefixTuningConfig {
        if (numVirtualTokens <= 0) {
            throw new IllegalArgumentException("num_virtual_tokens must be a positive integer, got " + numVirtualTokens);
        }
        if (encoderHiddenSize != null && encoderHiddenSize <= 0) {
            throw new IllegalArgumentException("encoder_hidden_size must be a positive integer, got " + encoderHiddenSize);
        }
        ModelDimensions.check(tokenDim, numLayers, numAttentionHeads);
        modulesToSave = List.copyOf(modulesToSave == null ? List.of() : modulesToSave);
    }

    /** Returns a builder with Hugging Face PEFT's defaults (no projection); n must be set. */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public PeftType peftType() {
        return PeftType.PREFIX_TUNING;
    }

    /** Returns a copy with the model's dimensions recorded, as they are when the adapter is attached. */
    public PrefixTuningConfig withModelDimensions(int tokenDim, int numLayers, int numAttentionHeads) {
        // encoder_hidden_size defaults to token_dim, as PEFT's _prepare_prompt_learning_config fills it
        return new PrefixTuningConfig(numVirtualTokens, prefixProjection,
                encoderHiddenSize != null ? encoderHiddenSize : tokenDim, tokenDim, numLayers,
                numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PrefixTuningConfig withInferenceMode(boolean inferenceMode) {
        return new PrefixTuningConfig(numVirtualTokens, prefixProjection, encoderHiddenSize, tokenDim, numLayers,
                numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PrefixTuningConfig withModulesToSave(List<String> modules) {
        return new PrefixTuningConfig(numVirtualTokens, prefixProjection, encoderHiddenSize, tokenDim, numLayers,
                numAttentionHeads, modules, taskType, baseModelNameOrPath, inferenceMode);
    }

    @Override
    public PrefixTuningConfig withTaskType(TaskType taskType) {
        return new PrefixTuningConfig(numVirtualTokens, prefixProjection, encoderHiddenSize, tokenDim, numLayers,
                numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    /** A builder of {@link PrefixTuningConfig}. */
    public static final class Builder {
        private int numVirtualTokens;
        private boolean prefixProjection;
        private Integer encoderHiddenSize;
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

        /** Produces the prefixes with an MLP during training (P-tuning v2). */
        public Builder optPrefixProjection(boolean prefixProjection) {
            this.prefixProjection = prefixProjection;
            return this;
        }

        /** Sets the projection MLP's hidden width (default: the model's hidden size). */
        public Builder optEncoderHiddenSize(Integer encoderHiddenSize) {
            this.encoderHiddenSize = encoderHiddenSize;
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
        public PrefixTuningConfig build() {
            return new PrefixTuningConfig(numVirtualTokens, prefixProjection, encoderHiddenSize, tokenDim, numLayers,
                    numAttentionHeads, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
        }
    }
}
