package org.peft4j.api.ia3;

import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.api.PeftType;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TargetingConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.internal.Excerpt;

/**
 * The settings of an (IA)³ adapter (Liu et al. 2022), with Hugging Face PEFT's names and defaults
 * ({@code peft/tuners/ia3/config.py}). Each targeted linear layer gets one learned vector l: a
 * feed-forward module scales its input, y = W (l ⊙ x) + b with l of shape [1, in]; any other
 * module scales its output, bias included, y = l ⊙ (W x + b) with l of shape [out, 1].
 *
 * <p>Immutable and validated at construction: a bad value fails at once with the key's name. As in
 * PEFT, {@code feedforward_modules} must be a subset of {@code target_modules} when both are lists
 * of names ({@code IA3Config.__post_init__}, config.py lines 109-112 in PEFT 0.21).
 *
 * @param targetModules the modules that get a vector
 * @param excludeModules modules never targeted, even when {@code targetModules} selects them; may be null
 * @param feedforwardModules the targets whose input rather than output is scaled: names matched as
 *     PEFT matches them (the module path ends with the name, a plain string suffix:
 *     {@code "output.dense"} also selects {@code attention.output.dense}) or a regular expression
 *     matched against the whole path; null for none
 * @param fanInFanOut PEFT's flag for layers that store their weight as [in, out] (GPT-2's
 *     {@code Conv1D}); kept so that the file round-trips, without effect on linear layers, whose
 *     weight is [out, in] in DJL as in PyTorch (PEFT resets it to false for {@code nn.Linear})
 * @param initIa3Weights whether the vectors start at ones (a fresh adapter changes nothing), as
 *     PEFT's default; false draws them from a standard normal distribution, as PEFT does
 * @param modulesToSave modules (such as a classification head) trained whole and saved with the adapter
 * @param taskType the task, or null
 * @param baseModelNameOrPath the base model's name or path, or null
 * @param inferenceMode whether the adapter is frozen for inference
 */
public record Ia3Config(
        TargetModules targetModules,
        TargetModules excludeModules,
        TargetModules feedforwardModules,
        boolean fanInFanOut,
        boolean initIa3Weights,
        List<String> modulesToSave,
        TaskType taskType,
        String baseModelNameOrPath,
        boolean inferenceMode)
        implements TargetingConfig {

    /**
     * PEFT's default targets per {@code model_type} ({@code TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING},
     * peft/utils/constants.py line 197; bert at line 213), for the model families peft4j knows or plans.
     */
    private static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "bert", List.of("key", "value", "output.dense"),
            "roberta", List.of("key", "value", "output.dense"),
            "llama", List.of("k_proj", "v_proj", "down_proj"),
            "mistral", List.of("k_proj", "v_proj", "down_proj"),
            "qwen2", List.of("q_proj", "v_proj", "down_proj"),
            "qwen3", List.of("q_proj", "v_proj", "down_proj"),
            "gpt2", List.of("c_attn", "mlp.c_proj"));

    /**
     * PEFT's default feed-forward modules per {@code model_type}
     * ({@code TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING}, constants.py line 249; bert at line 265).
     */
    private static final Map<String, List<String>> DEFAULT_FEEDFORWARD = Map.of(
            "bert", List.of("output.dense"),
            "roberta", List.of("output.dense"),
            "llama", List.of("down_proj"),
            "mistral", List.of("down_proj"),
            "qwen2", List.of("down_proj"),
            "qwen3", List.of("down_proj"),
            "gpt2", List.of("mlp.c_proj"));

    /** Validates every field and copies the collections. */
    public Ia3Config {
        if (targetModules == null) {
            throw new IllegalArgumentException("target_modules must be set: module names, a regular expression or"
                    + " \"all-linear\" (or PEFT's defaults for a model type: one of " + new TreeSet<>(DEFAULT_TARGETS.keySet())
                    + ")");
        }
        if (excludeModules != null && excludeModules.isAllLinear()) {
            throw new IllegalArgumentException("exclude_modules cannot be \"all-linear\"");
        }
        if (feedforwardModules != null && feedforwardModules.isAllLinear()) {
            throw new IllegalArgumentException("feedforward_modules cannot be \"all-linear\": it names modules among"
                    + " target_modules (or a regular expression)");
        }
        if (feedforwardModules != null && !feedforwardModules.isRegex() && !targetModules.isRegex()
                && !targetModules.isAllLinear() && !targetModules.names().containsAll(feedforwardModules.names())) {
            Set<String> extra = new LinkedHashSet<>(feedforwardModules.names());
            extra.removeAll(targetModules.names());
            throw new IllegalArgumentException("feedforward_modules must be a subset of target_modules, as PEFT's IA3Config"
                    + " requires: " + Excerpt.unquoted(extra.toString()) + " not in target_modules "
                    + Excerpt.unquoted(targetModules.names().toString()));
        }
        modulesToSave = List.copyOf(modulesToSave == null ? List.of() : modulesToSave);
    }

    /** Returns a builder with Hugging Face PEFT's defaults; target modules must still be chosen. */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns a builder that starts from this config's values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    /** The model types whose default targets {@link Builder#setDefaultTargetModules} knows. */
    public static Set<String> modelTypesWithDefaults() {
        return new TreeSet<>(DEFAULT_TARGETS.keySet());
    }

    @Override
    public PeftType peftType() {
        return PeftType.IA3;
    }

    @Override
    public Ia3Config withInferenceMode(boolean inferenceMode) {
        return toBuilder().optInferenceMode(inferenceMode).build();
    }

    @Override
    public Ia3Config withTaskType(TaskType taskType) {
        return toBuilder().optTaskType(taskType).build();
    }

    @Override
    public Ia3Config withModulesToSave(List<String> modules) {
        return toBuilder().optModulesToSave(modules.toArray(new String[0])).build();
    }

    /**
     * Returns whether the targeted module at {@code path} is a feed-forward module (its input is
     * scaled), as PEFT's {@code IA3Model._check_target_module_feedforward} decides it
     * (peft/tuners/ia3/model.py lines 184-193): a regular expression must match the whole path; a
     * name matches when the path ends with it, as a plain string suffix.
     */
    public boolean isFeedforward(String path) {
        if (feedforwardModules == null) {
            return false;
        }
        if (feedforwardModules.isRegex()) {
            return feedforwardModules.matches(path);
        }
        for (String name : feedforwardModules.names()) {
            if (path.endsWith(name)) {
                return true;
            }
        }
        return false;
    }

    /** A builder of {@link Ia3Config}, starting from Hugging Face PEFT's defaults. */
    public static final class Builder {
        private TargetModules targetModules;
        private TargetModules excludeModules;
        private TargetModules feedforwardModules;
        private boolean fanInFanOut;
        private boolean initIa3Weights = true;
        private List<String> modulesToSave = List.of();
        private TaskType taskType;
        private String baseModelNameOrPath;
        private boolean inferenceMode;

        private Builder() {}

        private Builder(Ia3Config c) {
            targetModules = c.targetModules;
            excludeModules = c.excludeModules;
            feedforwardModules = c.feedforwardModules;
            fanInFanOut = c.fanInFanOut;
            initIa3Weights = c.initIa3Weights;
            modulesToSave = c.modulesToSave;
            taskType = c.taskType;
            baseModelNameOrPath = c.baseModelNameOrPath;
            inferenceMode = c.inferenceMode;
        }

        /** Targets the modules whose paths end with one of these names. */
        public Builder setTargetModules(String... names) {
            this.targetModules = TargetModules.names(Arrays.asList(names));
            return this;
        }

        /** Sets the target modules in any of their three forms. */
        public Builder setTargetModules(TargetModules targetModules) {
            this.targetModules = targetModules;
            return this;
        }

        /** Targets the modules whose whole path matches a regular expression. */
        public Builder setTargetModulesRegex(String regex) {
            this.targetModules = TargetModules.regex(regex);
            return this;
        }

        /** Targets every linear layer except those in modules_to_save. */
        public Builder setTargetAllLinear() {
            this.targetModules = TargetModules.allLinear();
            return this;
        }

        /**
         * Sets {@code target_modules} and {@code feedforward_modules} to PEFT's defaults for a
         * Hugging Face {@code model_type}, as PEFT fills them in when a config leaves them out: for
         * {@code bert}, {@code key}, {@code value} and {@code output.dense}, with
         * {@code output.dense} feed-forward.
         *
         * @throws IllegalArgumentException naming the known model types if {@code modelType} is none of them
         */
        public Builder setDefaultTargetModules(String modelType) {
            List<String> targets = DEFAULT_TARGETS.get(modelType);
            if (targets == null) {
                throw new IllegalArgumentException("no default IA3 target_modules for model_type "
                        + Excerpt.quote(String.valueOf(modelType)) + "; known: " + modelTypesWithDefaults()
                        + "; set target_modules and feedforward_modules instead");
            }
            this.targetModules = TargetModules.names(targets);
            this.feedforwardModules = TargetModules.names(DEFAULT_FEEDFORWARD.get(modelType));
            return this;
        }

        /** Scales the input, not the output, of the targets whose paths end with one of these names. */
        public Builder optFeedforwardModules(String... names) {
            this.feedforwardModules = TargetModules.names(Arrays.asList(names));
            return this;
        }

        /** Sets the feed-forward modules as names or a regular expression (null: none). */
        public Builder optFeedforwardModules(TargetModules feedforwardModules) {
            this.feedforwardModules = feedforwardModules;
            return this;
        }

        /** Never targets the modules whose paths end with one of these names. */
        public Builder optExcludeModules(String... names) {
            this.excludeModules = TargetModules.names(Arrays.asList(names));
            return this;
        }

        /** Sets the excluded modules as names or a regular expression (null: none). */
        public Builder optExcludeModules(TargetModules excludeModules) {
            this.excludeModules = excludeModules;
            return this;
        }

        /** Records PEFT's {@code fan_in_fan_out} flag (default false; no effect on linear layers). */
        public Builder optFanInFanOut(boolean fanInFanOut) {
            this.fanInFanOut = fanInFanOut;
            return this;
        }

        /** Sets whether the vectors start at ones (default true) or random normal. */
        public Builder optInitIa3Weights(boolean initIa3Weights) {
            this.initIa3Weights = initIa3Weights;
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

        /**
         * Returns the validated config.
         *
         * @throws IllegalArgumentException naming the first key with a bad value
         */
        public Ia3Config build() {
            return new Ia3Config(targetModules, excludeModules, feedforwardModules, fanInFanOut, initIa3Weights,
                    modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
        }
    }
}
