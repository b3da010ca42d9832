package org.peft4j.api.lora.algebra;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.apache.commons.math3.linear.RealMatrix;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Extracts a LoRA adapter of rank r from a fully fine-tuned model: for each targeted weight
 * {@code <path>.weight} present in both models with the same 2-D shape, the difference
 * ΔW = W_tuned − W_base is factored by a truncated SVD into B = U_r √S_r and A = √S_r Vᵀ_r (the best
 * rank-r approximation; randomized beyond {@value LinearAlgebra#EXACT_SVD_LIMIT} a side, seeded).
 * Tensors the tuned model has and the base lacks, or has in another shape (a new classification
 * head), are saved whole under {@code modules_to_save}; changed tensors that LoRA cannot express (1-D
 * ones: biases, layer norms) are left out and logged. The config has r = lora_alpha = r (s = 1) and
 * the extracted modules' full paths as {@code target_modules}.
 *
 * <p>Without {@link Builder#optTargetModules}, every 2-D weight that changed is extracted except
 * embeddings (a path containing {@code embed}), which PEFT's LoRA keeps under other keys.
 */
public final class LoraExtraction {
    private static final Logger LOG = LoggerFactory.getLogger(LoraExtraction.class);
    private static final String WEIGHT = ".weight";

    private final Map<String, Tensor> base;
    private final Map<String, Tensor> tuned;
    private final int rank;
    private final TargetModules targetModules;
    private final TaskType taskType;
    private final String baseModelNameOrPath;
    private final int niter;
    private final long seed;

    private LoraExtraction(Builder b) {
        base = Map.copyOf(Objects.requireNonNull(b.base, "base weights"));
        tuned = Map.copyOf(Objects.requireNonNull(b.tuned, "tuned weights"));
        if (b.rank <= 0) {
            throw new IllegalArgumentException("rank must be positive, got " + b.rank);
        }
        rank = b.rank;
        targetModules = b.targetModules;
        taskType = b.taskType;
        baseModelNameOrPath = b.baseModelNameOrPath;
        niter = b.niter;
        seed = b.seed;
    }

    /** Returns a builder; base weights, tuned weights and the rank must be set. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Computes the adapter.
     *
     * @throws IllegalArgumentException if no weight differs between the models, or a targeted weight
     *     is not floating-point
     */
    public AdapterCheckpoint extract() {
        Map<String, Tensor> out = new TreeMap<>();
        Set<String> targets = new LinkedHashSet<>();
        Set<String> savedWhole = new LinkedHashSet<>();
        List<String> dropped = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : new TreeMap<>(tuned).entrySet()) {
            String key = e.getKey();
            Tensor t = e.getValue();
            Tensor b = base.get(key);
            String module = key.contains(".") ? key.substring(0, key.lastIndexOf('.')) : key;
            if (b == null || !Arrays.equals(b.shape(), t.shape())) {
                savedWhole.add(module);
                out.put(LoraModules.KEY_PREFIX + key, t);
            } else if (!b.equals(t) && !Arrays.equals(b.toDoubleArray(), t.toDoubleArray())) {
                if (key.endsWith(WEIGHT) && t.shape().length == 2 && isTarget(module)) {
                    RealMatrix delta = Matrices.toMatrix(t, key).subtract(Matrices.toMatrix(b, key));
                    RealMatrix[] factors = LoraResize.balancedFactors(LinearAlgebra.truncatedSvd(delta, rank, niter, seed), rank);
                    DType dtype = t.dtype() == DType.F64 ? DType.F64 : DType.F32;
                    out.put(LoraModules.aKey(module), Matrices.toTensor(factors[0], dtype));
                    out.put(LoraModules.bKey(module), Matrices.toTensor(factors[1], dtype));
                    targets.add(module);
                } else {
                    dropped.add(key);
                }
            }
        }
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("no targeted 2-D weight differs between the base and the tuned model"
                    + (targetModules == null ? "" : " (target_modules " + targetModules + ")"));
        }
        if (!dropped.isEmpty()) {
            LOG.warn("{} changed tensors cannot be expressed by LoRA and are left out of the extracted adapter: {}",
                    dropped.size(), dropped.size() <= 8 ? dropped : dropped.subList(0, 8) + " ...");
        }
        LoraConfig config = LoraConfig.builder()
                .optR(rank)
                .optLoraAlpha(rank)
                .setTargetModules(TargetModules.names(targets))
                .optModulesToSave(savedWhole.toArray(new String[0]))
                .optTaskType(taskType)
                .optBaseModelNameOrPath(baseModelNameOrPath)
                .build();
        return new AdapterCheckpoint(config, out);
    }

    private boolean isTarget(String module) {
        return targetModules != null ? targetModules.matches(module) : !module.toLowerCase(Locale.ROOT).contains("embed");
    }

    /** A builder of {@link LoraExtraction}; DJL's words: {@code setX} required, {@code optX} optional. */
    public static final class Builder {
        private Map<String, Tensor> base;
        private Map<String, Tensor> tuned;
        private int rank;
        private TargetModules targetModules;
        private TaskType taskType;
        private String baseModelNameOrPath;
        private int niter = LinearAlgebra.DEFAULT_NITER;
        private long seed;

        private Builder() {}

        /** Sets the base model's weights, keyed as its {@code model.safetensors} keys them. */
        public Builder setBase(Map<String, Tensor> base) {
            this.base = base;
            return this;
        }

        /** Sets the fully fine-tuned model's weights, keyed as the base's. */
        public Builder setTuned(Map<String, Tensor> tuned) {
            this.tuned = tuned;
            return this;
        }

        /** Sets the rank r of the extracted adapter. */
        public Builder setRank(int rank) {
            this.rank = rank;
            return this;
        }

        /** Extracts only the modules these target modules select (default: every changed 2-D weight but embeddings). */
        public Builder optTargetModules(TargetModules targetModules) {
            this.targetModules = targetModules;
            return this;
        }

        /** Sets the adapter's task type (for a sequence classifier: {@code SEQ_CLS}). */
        public Builder optTaskType(TaskType taskType) {
            this.taskType = taskType;
            return this;
        }

        /** Records the base model's name or path in the config. */
        public Builder optBaseModelNameOrPath(String baseModelNameOrPath) {
            this.baseModelNameOrPath = baseModelNameOrPath;
            return this;
        }

        /** Sets the subspace iterations of the randomized SVD of large matrices (default 2). */
        public Builder optNiter(int niter) {
            this.niter = niter;
            return this;
        }

        /** Seeds the randomized SVD of large matrices (default 0). */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Returns the validated extraction.
         *
         * @throws IllegalArgumentException if the rank is not positive
         */
        public LoraExtraction build() {
            return new LoraExtraction(this);
        }
    }
}
