package org.peft4j.api.lora;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import org.peft4j.api.PeftType;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TargetingConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.internal.ConfigRegex;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.internal.ModulePatterns;

/**
 * The settings of a LoRA adapter, with Hugging Face PEFT's names and defaults: rank {@code r} = 8,
 * {@code lora_alpha} = 8, {@code lora_dropout} = 0. (LLaMA-Factory defaults alpha to 2·r; set it
 * explicitly when reproducing its runs.) Each targeted linear layer computes
 * y = W x + b + s·B(A(dropout(x))) with s = alpha / r, or alpha / sqrt(r) with rsLoRA.
 *
 * <p>Immutable and validated at construction: a bad value fails at once with the field's name.
 *
 * @param r the rank of A [r, in] and B [out, r]; positive
 * @param loraAlpha the scaling numerator; finite and positive
 * @param loraDropout the dropout probability on the LoRA branch's input, in [0, 1)
 * @param targetModules the modules that get LoRA matrices
 * @param excludeModules modules never targeted, even when {@code targetModules} selects them; may be null
 * @param useRslora whether s = alpha / sqrt(r) (rank-stabilised LoRA) instead of alpha / r
 * @param bias which biases train with the adapter
 * @param initLoraWeights how A and B start
 * @param rankPattern per-module ranks: regular expressions matched against the end of a module path
 *     (in linear time, see {@link ConfigRegex#patternKey})
 * @param alphaPattern per-module alphas, matched like {@code rankPattern}
 * @param modulesToSave modules (such as a classification head) trained whole and saved with the adapter
 * @param taskType the task, or null
 * @param baseModelNameOrPath the base model's name or path, or null
 * @param inferenceMode whether the adapter is frozen for inference
 * @param pissaNiter the subspace iterations of {@code init_lora_weights: "pissa_niter_N"}; 0 for the
 *     other initialisations
 * @param useDora whether each targeted layer is DoRA (weight-decomposed LoRA, {@code use_dora}): its
 *     output rows are rescaled to a trained magnitude m, y = m / ||W + s·B·A||_row · (W x + s·B·A x) + b
 * @param fanInFanOut PEFT's {@code fan_in_fan_out}: the targeted layers store W as [in, out] in the
 *     Python model (transformers' {@code Conv1D}, GPT-2). A and B mean the same either way; PEFT sets
 *     it from the targets' type, and so does attaching the adapter to a model
 */
public record LoraConfig(
        int r,
        float loraAlpha,
        float loraDropout,
        TargetModules targetModules,
        TargetModules excludeModules,
        boolean useRslora,
        LoraBias bias,
        LoraInit initLoraWeights,
        Map<String, Integer> rankPattern,
        Map<String, Float> alphaPattern,
        List<String> modulesToSave,
        TaskType taskType,
        String baseModelNameOrPath,
        boolean inferenceMode,
        int pissaNiter,
        boolean useDora,
        boolean fanInFanOut)
        implements TargetingConfig {

    /** Validates every field and copies the collections. */
    public LoraConfig {
        requirePositive("r", r);
        requirePositiveFinite("lora_alpha", loraAlpha);
        if (!(loraDropout >= 0 && loraDropout < 1)) {
            throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + loraDropout);
        }
        if (targetModules == null) {
            throw new IllegalArgumentException(
                    "target_modules must be set: module names, a regular expression or \"all-linear\"");
        }
        if (excludeModules != null && excludeModules.isAllLinear()) {
            throw new IllegalArgumentException("exclude_modules cannot be \"all-linear\"");
        }
        Objects.requireNonNull(bias, "bias");
        Objects.requireNonNull(initLoraWeights, "init_lora_weights");
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern == null ? Map.of() : rankPattern));
        rankPattern.forEach((k, v) -> {
            ConfigRegex.patternKey(k, "rank_pattern");
            requirePositive("rank_pattern[" + Excerpt.quote(k) + "]", v);
        });
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern == null ? Map.of() : alphaPattern));
        alphaPattern.forEach((k, v) -> {
            ConfigRegex.patternKey(k, "alpha_pattern");
            requirePositiveFinite("alpha_pattern[" + Excerpt.quote(k) + "]", v);
        });
        modulesToSave = List.copyOf(modulesToSave == null ? List.of() : modulesToSave);
        if (pissaNiter < 0 || pissaNiter > 0 && initLoraWeights != LoraInit.PISSA_NITER) {
            throw new IllegalArgumentException("the N of init_lora_weights \"pissa_niter_N\" must be >= 0, and is 0"
                    + " for every other initialisation; got " + pissaNiter + " with " + initLoraWeights);
        }
    }

    private static void requirePositive(String field, Integer value) {
        if (value == null || value <= 0) {
            throw new IllegalArgumentException(field + " must be a positive integer, got " + value);
        }
    }

    private static void requirePositiveFinite(String field, Float value) {
        if (value == null || !Float.isFinite(value) || value <= 0) {
            throw new IllegalArgumentException(field + " must be a finite positive number, got " + value);
        }
    }

    /**
     * PEFT's default LoRA target modules per {@code model_type}
     * ({@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING}, peft 0.21 utils/constants.py line 67:
     * gpt2 line 71, bert 78, roberta 79, llama 85, mistral 95, qwen2 103), for the families peft4j has.
     */
    private static final Map<String, List<String>> DEFAULT_TARGETS = Map.of(
            "bert", List.of("query", "value"),
            "roberta", List.of("query", "value"),
            "llama", List.of("q_proj", "v_proj"),
            "mistral", List.of("q_proj", "v_proj"),
            "qwen2", List.of("q_proj", "v_proj"),
            "gpt2", List.of("c_attn"));

    /**
     * The modules PEFT adapts when {@code target_modules} is left out, for a model of
     * {@code modelType} ({@code config.json}'s {@code model_type}).
     *
     * @throws IllegalArgumentException if PEFT has no default for it here, listing the types that have one
     */
    public static List<String> defaultTargetModules(String modelType) {
        List<String> targets = DEFAULT_TARGETS.get(modelType);
        if (targets == null) {
            throw new IllegalArgumentException("no default LoRA target modules for model_type \"" + modelType
                    + "\" (known: " + new TreeSet<>(DEFAULT_TARGETS.keySet()) + "); set target_modules");
        }
        return targets;
    }

    /** Returns a builder with Hugging Face PEFT's defaults; target modules must still be chosen. */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns a builder that starts from this config's values. */
    public Builder toBuilder() {
        return new Builder(this);
    }

    @Override
    public PeftType peftType() {
        return PeftType.LORA;
    }

    @Override
    public LoraConfig withInferenceMode(boolean inferenceMode) {
        return toBuilder().optInferenceMode(inferenceMode).build();
    }

    @Override
    public LoraConfig withTaskType(TaskType taskType) {
        return toBuilder().optTaskType(taskType).build();
    }

    @Override
    public LoraConfig withModulesToSave(List<String> modules) {
        return toBuilder().optModulesToSave(modules.toArray(new String[0])).build();
    }

    /** Returns the rank on the module at {@code path}: the first matching rank_pattern, else r. */
    public int rankFor(String path) {
        for (Map.Entry<String, Integer> e : rankPattern.entrySet()) {
            if (ModulePatterns.patternKeyMatches(e.getKey(), path)) {
                return e.getValue();
            }
        }
        return r;
    }

    /** Returns the alpha on the module at {@code path}: the first matching alpha_pattern, else lora_alpha. */
    public float alphaFor(String path) {
        for (Map.Entry<String, Float> e : alphaPattern.entrySet()) {
            if (ModulePatterns.patternKeyMatches(e.getKey(), path)) {
                return e.getValue();
            }
        }
        return loraAlpha;
    }

    /** Returns s on the module at {@code path}: alpha / r, or alpha / sqrt(r) with rsLoRA. */
    public float scalingFor(String path) {
        int rank = rankFor(path);
        float alpha = alphaFor(path);
        return useRslora ? (float) (alpha / Math.sqrt(rank)) : alpha / rank;
    }

    /** A builder of {@link LoraConfig}, starting from Hugging Face PEFT's defaults. */
    public static final class Builder {
        private int r = 8;
        private float loraAlpha = 8;
        private float loraDropout;
        private TargetModules targetModules;
        private TargetModules excludeModules;
        private boolean useRslora;
        private LoraBias bias = LoraBias.NONE;
        private LoraInit initLoraWeights = LoraInit.KAIMING_UNIFORM;
        private final Map<String, Integer> rankPattern = new LinkedHashMap<>();
        private final Map<String, Float> alphaPattern = new LinkedHashMap<>();
        private List<String> modulesToSave = List.of();
        private TaskType taskType;
        private String baseModelNameOrPath;
        private boolean inferenceMode;
        private int pissaNiter;
        private boolean useDora;
        private boolean fanInFanOut;

        private Builder() {}

        private Builder(LoraConfig c) {
            r = c.r;
            loraAlpha = c.loraAlpha;
            loraDropout = c.loraDropout;
            targetModules = c.targetModules;
            excludeModules = c.excludeModules;
            useRslora = c.useRslora;
            bias = c.bias;
            initLoraWeights = c.initLoraWeights;
            rankPattern.putAll(c.rankPattern);
            alphaPattern.putAll(c.alphaPattern);
            modulesToSave = c.modulesToSave;
            taskType = c.taskType;
            baseModelNameOrPath = c.baseModelNameOrPath;
            inferenceMode = c.inferenceMode;
            pissaNiter = c.pissaNiter;
            useDora = c.useDora;
            fanInFanOut = c.fanInFanOut;
        }

        /** Sets the rank {@code r} (default 8). */
        public Builder optR(int r) {
            this.r = r;
            return this;
        }

        /** Sets {@code lora_alpha} (default 8). */
        public Builder optLoraAlpha(float loraAlpha) {
            this.loraAlpha = loraAlpha;
            return this;
        }

        /** Sets {@code lora_dropout} (default 0). */
        public Builder optLoraDropout(float loraDropout) {
            this.loraDropout = loraDropout;
            return this;
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

        /** Never targets the modules whose paths end with one of these names. */
        public Builder optExcludeModules(String... names) {
            this.excludeModules = TargetModules.names(Arrays.asList(names));
            return this;
        }

        /** Sets the excluded modules in the form of names or a regular expression (null: none). */
        public Builder optExcludeModules(TargetModules excludeModules) {
            this.excludeModules = excludeModules;
            return this;
        }

        /** Chooses s = alpha / sqrt(r) (rank-stabilised LoRA) instead of alpha / r. */
        public Builder optUseRslora(boolean useRslora) {
            this.useRslora = useRslora;
            return this;
        }

        /** Sets which biases train (default none). */
        public Builder optBias(LoraBias bias) {
            this.bias = bias;
            return this;
        }

        /** Sets how A and B start (default kaiming-uniform A, zero B). */
        public Builder optInitLoraWeights(LoraInit init) {
            this.initLoraWeights = init;
            if (init != LoraInit.PISSA_NITER) {
                pissaNiter = 0;
            }
            return this;
        }

        /**
         * Starts A and B with PiSSA from a randomized SVD with {@code niter} subspace iterations
         * ({@code init_lora_weights: "pissa_niter_N"}).
         */
        public Builder optPissaNiter(int niter) {
            this.initLoraWeights = LoraInit.PISSA_NITER;
            this.pissaNiter = niter;
            return this;
        }

        /** Gives the modules matching {@code pattern} their own rank. */
        public Builder optRankPattern(String pattern, int rank) {
            rankPattern.put(pattern, rank);
            return this;
        }

        /** Gives the modules matching {@code pattern} their own alpha. */
        public Builder optAlphaPattern(String pattern, float alpha) {
            alphaPattern.put(pattern, alpha);
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
         * Makes each targeted layer DoRA ({@code use_dora}, default false): a trained magnitude per
         * output row, which starts at the row norms of W + s·B·A, rescales the layer's output.
         */
        public Builder optUseDora(boolean useDora) {
            this.useDora = useDora;
            return this;
        }

        /**
         * Records PEFT's {@code fan_in_fan_out} (default false): the targeted layers are
         * {@code Conv1D} layers in the Python model. Attaching the adapter sets it from the targets.
         */
        public Builder optFanInFanOut(boolean fanInFanOut) {
            this.fanInFanOut = fanInFanOut;
            return this;
        }

        /**
         * Returns the validated config.
         *
         * @throws IllegalArgumentException naming the first field with a bad value
         */
        public LoraConfig build() {
            return new LoraConfig(r, loraAlpha, loraDropout, targetModules, excludeModules, useRslora, bias,
                    initLoraWeights, rankPattern, alphaPattern, modulesToSave, taskType, baseModelNameOrPath,
                    inferenceMode, pissaNiter, useDora, fanInFanOut);
        }
    }
}
