package org.peft4j.api.lora.algebra;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.commons.math3.linear.DefaultRealMatrixChangingVisitor;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.random.RandomGenerator;
import org.apache.commons.math3.random.Well19937c;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Combines LoRA adapters into a new one with weights, as Hugging Face PEFT's
 * {@code LoraModel.add_weighted_adapter} does (peft/tuners/lora/model.py in PEFT 0.21: the checks of
 * {@code _check_add_weighted_adapter}, lines 602-679; the combination, lines 681-830;
 * {@code _svd_generalized_task_arithmetic_weighted_adapter}, lines 832-899;
 * {@code _generalized_task_arithmetic_weighted_adapter}, lines 901-951; and peft/utils/merge_utils.py),
 * on adapters in their framework-neutral form ({@link AdapterCheckpoint}s), so that the result can be
 * saved as Hugging Face files or added to a model.
 *
 * <p>What each module of the result holds, with s_i each adapter's scaling and w_i its weight:
 * <ul>
 *   <li>{@code linear}, {@code ties}, {@code dare_*} and {@code magnitude_prune} (equal ranks): A' and
 *       B' merged separately, the A's weighted by √|w_i·s_i|·sign(w_i·s_i) and the B's by √|w_i·s_i|,
 *       so that for {@code linear} B'A' = (Σ √.. B_i)(Σ ±√.. A_i) includes cross terms;</li>
 *   <li>{@code cat}: A' = [w_1 s_1 A_1; w_2 s_2 A_2; ...], B' = [B_1, B_2, ...], rank Σ r_i, so that
 *       B'A' = Σ w_i ΔW_i exactly;</li>
 *   <li>the {@code *_svd} types: ΔW = the merge of w_i·(s_i B_i A_i), then B' = U_k diag(S_k),
 *       A' = Vᵀ_k of its SVD truncated to k = {@code svd_rank} (default: the largest rank), optionally
 *       clamped to the {@code svd_clamp} quantile of their entries. The factors' signs are arbitrary,
 *       so only ΔW = B'A' is comparable with PEFT's.</li>
 * </ul>
 * The new config is the first adapter's with r = lora_alpha = the new rank (so s = 1, unless the
 * first adapter uses rsLoRA, which PEFT also copies), no rank or alpha patterns, and the union of the
 * target modules (names united, regular expressions joined as {@code (a)|(b)}); the weights file's
 * metadata is the first adapter's.
 *
 * <p>Differences from PEFT, all deliberate: DARE's random masks come from a generator seeded by
 * {@link Builder#optSeed} (PEFT draws from torch's global, unseeded generator, so its DARE results
 * differ run to run); a merge whose adapters or weights do not pair up, a missing {@code density}, or
 * an existing adapter name (see the frameworks' {@code addWeightedAdapter}) are errors where PEFT
 * truncates, fails deep inside torch or returns silently; a module whose matrix has fewer than
 * the new rank rows or columns gets zero rows in A' and columns in B' (PEFT's tensors would change
 * shape); {@code svd_full_matrices} is accepted but changes nothing, since only the leading
 * singular triplets are kept either way; tensors that are not LoRA matrices (a head kept in
 * {@code modules_to_save}) are carried from the one adapter that holds them, where PEFT's new adapter
 * would start from the base model's module, and two adapters holding the same such tensor, or two
 * {@code SEQ_CLS} adapters (each with its own classification head), are refused as PEFT refuses them.
 */
public final class WeightedAdapterMerge {
    private static final Logger LOG = LoggerFactory.getLogger(WeightedAdapterMerge.class);

    private final List<LoraModules> adapters;
    private final Map<String, String> metadata;
    private final double[] weights;
    private final CombinationType combinationType;
    private final Double density;
    private final MajoritySignMethod majoritySignMethod;
    private final Integer svdRank;
    private final Double svdClamp;
    private final long seed;

    private WeightedAdapterMerge(Builder b) {
        if (b.checkpoints.isEmpty()) {
            throw new IllegalArgumentException("add_weighted_adapter needs at least one adapter");
        }
        adapters = new ArrayList<>();
        b.checkpoints.forEach((name, checkpoint) -> adapters.add(LoraModules.of(name, checkpoint)));
        metadata = b.checkpoints.values().iterator().next().metadata();
        weights = b.weights.stream().mapToDouble(Double::doubleValue).toArray();
        for (int i = 0; i < weights.length; i++) {
            if (!Double.isFinite(weights[i])) {
                throw new IllegalArgumentException("weight of adapter " + Excerpt.quote(adapters.get(i).source())
                        + " must be finite, got " + weights[i]);
            }
        }
        // PEFT: "if there is only one adapter, we can only use linear merging" (model.py line 634)
        combinationType = adapters.size() == 1 ? CombinationType.LINEAR
                : Objects.requireNonNull(b.combinationType, "combination_type");
        if (combinationType.needsDensity()) {
            if (b.density == null) {
                throw new IllegalArgumentException("combination_type " + combinationType.peftName()
                        + " needs density, the fraction of entries to keep, in [0, 1]");
            }
            if (!(b.density >= 0)) {
                throw new IllegalArgumentException("density must be >= 0, got " + b.density);
            }
            if (b.density >= 1) {
                LOG.warn("density {} is >= 1: {} prunes nothing", b.density, combinationType.peftName());
            }
        }
        density = b.density;
        majoritySignMethod = b.majoritySignMethod;
        if (b.svdRank != null && b.svdRank <= 0) {
            throw new IllegalArgumentException("svd_rank must be positive, got " + b.svdRank);
        }
        svdRank = b.svdRank;
        if (b.svdClamp != null && !(b.svdClamp >= 0 && b.svdClamp <= 1)) {
            throw new IllegalArgumentException("svd_clamp must be a quantile in [0, 1], got " + b.svdClamp);
        }
        svdClamp = b.svdClamp;
        seed = b.seed;
    }

    /** Returns a builder; adapters and a combination type must be set. */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns the combination type applied: the one chosen, or {@code linear} for a single adapter, as in PEFT. */
    public CombinationType combinationType() {
        return combinationType;
    }

    /** Returns the rank of the combined adapter, as PEFT's {@code _check_add_weighted_adapter} computes it. */
    public int newRank() {
        int[] ranks = adapters.stream().mapToInt(LoraModules::maxConfiguredRank).toArray();
        if (combinationType == CombinationType.CAT) {
            return Arrays.stream(ranks).sum();
        }
        if (combinationType.isSvd()) {
            return svdRank != null ? svdRank : Arrays.stream(ranks).max().orElseThrow();
        }
        if (Arrays.stream(ranks).distinct().count() != 1) {
            StringBuilder which = new StringBuilder();
            for (int i = 0; i < ranks.length; i++) {
                which.append(i == 0 ? "" : ", ").append(adapters.get(i).source()).append(": r=").append(ranks[i]);
            }
            throw new IllegalArgumentException("all adapters must have the same r for combination_type "
                    + combinationType.peftName() + " (" + which + "); use cat or an *_svd type to combine different ranks");
        }
        return ranks[0];
    }

    /**
     * Computes the combined adapter: its config, tensors and metadata.
     *
     * @throws IllegalArgumentException if the adapters cannot be combined this way (ranks differ for a
     *     type that needs them equal, target modules of different forms, a module's shapes differ
     *     between adapters, two adapters carry the same head)
     */
    public AdapterCheckpoint merge() {
        int newRank = newRank();
        LoraConfig config = combinedConfig(newRank);
        Map<String, Tensor> out = new TreeMap<>(carriedTensors());
        RandomGenerator random = new Well19937c(seed);
        Set<String> paths = new TreeSet<>();
        adapters.forEach(a -> paths.addAll(a.pairs().keySet()));
        for (String path : paths) {
            List<Integer> holders = new ArrayList<>();
            for (int i = 0; i < adapters.size(); i++) {
                if (adapters.get(i).pairs().containsKey(path)) {
                    holders.add(i);
                }
            }
            requireSameShape(path, holders);
            RealMatrix[] ab = combinationType == CombinationType.CAT ? concatenate(path, holders, newRank)
                    : combinationType.isSvd() ? svdCombine(path, holders, newRank, random)
                    : combineSeparately(path, holders, random);
            DType dtype = adapters.get(holders.get(0)).pairs().get(path).a().dtype();
            out.put(LoraModules.aKey(path), Matrices.toTensor(ab[0], dtype));
            out.put(LoraModules.bKey(path), Matrices.toTensor(ab[1], dtype));
        }
        return new AdapterCheckpoint(config, out, metadata);
    }

    private void requireSameShape(String path, List<Integer> holders) {
        LoraModules first = adapters.get(holders.get(0));
        long[] a0 = first.pairs().get(path).a().shape();
        long[] b0 = first.pairs().get(path).b().shape();
        for (int i : holders) {
            LoraModules other = adapters.get(i);
            long[] a = other.pairs().get(path).a().shape();
            long[] b = other.pairs().get(path).b().shape();
            boolean sameLayer = a[1] == a0[1] && b[0] == b0[0];
            if (!sameLayer || combinationType.needsEqualRanks() && a[0] != a0[0]) {
                throw new IllegalArgumentException("module " + Excerpt.quote(path) + ": adapter " + Excerpt.quote(first.source())
                        + " has lora_A " + Arrays.toString(a0) + " and lora_B " + Arrays.toString(b0) + ", adapter "
                        + Excerpt.quote(other.source()) + " has " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + (sameLayer ? "; combination_type " + combinationType.peftName() + " needs equal ranks"
                                : "; they were trained on layers of different sizes"));
            }
        }
    }

    /** cat: [w_i s_i A_i] stacked by rows, [B_i] side by side, zero-padded to the new rank. */
    private RealMatrix[] concatenate(String path, List<Integer> holders, int newRank) {
        LoraModules first = adapters.get(holders.get(0));
        int in = Math.toIntExact(first.pairs().get(path).a().shape()[1]);
        int outDim = Math.toIntExact(first.pairs().get(path).b().shape()[0]);
        RealMatrix a = MatrixUtils.createRealMatrix(newRank, in);
        RealMatrix b = MatrixUtils.createRealMatrix(outDim, newRank);
        int row = 0;
        for (int i : holders) {
            LoraModules m = adapters.get(i);
            RealMatrix ai = Matrices.toMatrix(m.pairs().get(path).a(), LoraModules.aKey(path))
                    .scalarMultiply(weights[i] * m.config().scalingFor(path));
            RealMatrix bi = Matrices.toMatrix(m.pairs().get(path).b(), LoraModules.bKey(path));
            a.setSubMatrix(ai.getData(), row, 0);
            b.setSubMatrix(bi.getData(), 0, row);
            row += ai.getRowDimension();
        }
        return new RealMatrix[] {a, b};
    }

    /** The types without _svd: A's and B's merged separately, √|w·s| with the sign on A. */
    private RealMatrix[] combineSeparately(String path, List<Integer> holders, RandomGenerator random) {
        double[] weightsA = new double[holders.size()];
        double[] weightsB = new double[holders.size()];
        List<double[]> as = new ArrayList<>();
        List<double[]> bs = new ArrayList<>();
        for (int j = 0; j < holders.size(); j++) {
            LoraModules m = adapters.get(holders.get(j));
            double ws = weights[holders.get(j)] * m.config().scalingFor(path);
            weightsA[j] = Math.sqrt(Math.abs(ws)) * (ws >= 0 ? 1 : -1);
            weightsB[j] = Math.sqrt(Math.abs(ws));
            as.add(m.pairs().get(path).a().toDoubleArray());
            bs.add(m.pairs().get(path).b().toDoubleArray());
        }
        LoraModules.Pair shape = adapters.get(holders.get(0)).pairs().get(path);
        double d = density == null ? 1 : density;
        double[] a = MergeFunctions.combine(combinationType, as, weightsA, d, majoritySignMethod, random);
        double[] b = MergeFunctions.combine(combinationType, bs, weightsB, d, majoritySignMethod, random);
        return new RealMatrix[] {
            Matrices.toMatrix(Tensor.ofDoubles(shape.a().shape(), a), LoraModules.aKey(path)),
            Matrices.toMatrix(Tensor.ofDoubles(shape.b().shape(), b), LoraModules.bKey(path))
        };
    }

    /** The *_svd types: the ΔW's merged, then factored by a truncated SVD (and clamped). */
    private RealMatrix[] svdCombine(String path, List<Integer> holders, int newRank, RandomGenerator random) {
        List<double[]> deltas = new ArrayList<>();
        double[] w = new double[holders.size()];
        long[] shape = null;
        for (int j = 0; j < holders.size(); j++) {
            LoraModules m = adapters.get(holders.get(j));
            LoraModules.Pair p = m.pairs().get(path);
            RealMatrix delta = Matrices.toMatrix(p.b(), LoraModules.bKey(path))
                    .multiply(Matrices.toMatrix(p.a(), LoraModules.aKey(path)))
                    .scalarMultiply(m.config().scalingFor(path));
            shape = new long[] {delta.getRowDimension(), delta.getColumnDimension()};
            deltas.add(Matrices.toTensor(delta, DType.F64).toDoubleArray());
            w[j] = weights[holders.get(j)];
        }
        double d = density == null ? 1 : density;
        double[] merged = MergeFunctions.combine(combinationType, deltas, w, d, majoritySignMethod, random);
        RealMatrix delta = Matrices.toMatrix(Tensor.ofDoubles(shape, merged), path);
        Factors f = LinearAlgebra.truncatedSvd(delta, newRank, LinearAlgebra.DEFAULT_NITER, seed);
        RealMatrix b = f.scaledU();
        RealMatrix a = f.vt();
        if (svdClamp != null) {
            double high = quantile(b, a, svdClamp);
            b = clamp(b, high);
            a = clamp(a, high);
        }
        return new RealMatrix[] {Matrices.firstRows(a, newRank), Matrices.firstColumns(b, newRank)};
    }

    /** torch.quantile(cat(U.flatten(), Vh.flatten()), q) with its default linear interpolation. */
    static double quantile(RealMatrix u, RealMatrix vh, double q) {
        double[] all = new double[u.getRowDimension() * u.getColumnDimension() + vh.getRowDimension() * vh.getColumnDimension()];
        int k = 0;
        for (double[] row : u.getData()) {
            for (double v : row) {
                all[k++] = v;
            }
        }
        for (double[] row : vh.getData()) {
            for (double v : row) {
                all[k++] = v;
            }
        }
        // torch's "linear" is NumPy's default, position q·(n-1): Percentile's R_7 estimation
        return new Percentile().withEstimationType(Percentile.EstimationType.R_7).evaluate(all, q * 100);
    }

    private static RealMatrix clamp(RealMatrix m, double high) {
        RealMatrix out = m.copy();
        out.walkInOptimizedOrder(new DefaultRealMatrixChangingVisitor() {
            @Override
            public double visit(int row, int column, double value) {
                return Math.max(-high, Math.min(high, value));
            }
        });
        return out;
    }

    private LoraConfig combinedConfig(int newRank) {
        LoraConfig first = adapters.get(0).config();
        List<String> modulesToSave = new ArrayList<>();
        Set<String> seen = new LinkedHashSet<>();
        for (LoraModules a : adapters) {
            for (String m : a.config().modulesToSave()) {
                if (seen.add(m)) {
                    modulesToSave.add(m);
                }
            }
        }
        return LoraConfig.builder()
                .optR(newRank)
                .optLoraAlpha(newRank)
                .optLoraDropout(first.loraDropout())
                .setTargetModules(combinedTargets())
                .optUseRslora(first.useRslora())
                .optBias(first.bias())
                .optInitLoraWeights(first.initLoraWeights())
                .optModulesToSave(modulesToSave.toArray(new String[0]))
                .optTaskType(first.taskType())
                .optBaseModelNameOrPath(first.baseModelNameOrPath())
                .optInferenceMode(first.inferenceMode())
                .build();
    }

    /** PEFT's union: names united, regular expressions joined as (a)|(b); forms must not be mixed. */
    private TargetModules combinedTargets() {
        List<TargetModules> targets = adapters.stream().map(a -> a.config().targetModules()).toList();
        String form = form(targets.get(0));
        for (int i = 1; i < targets.size(); i++) {
            if (!form(targets.get(i)).equals(form)) {
                throw new IllegalArgumentException("all adapters' target_modules must have the same form to be combined: "
                        + adapters.get(0).source() + " has " + form + " " + targets.get(0) + ", " + adapters.get(i).source()
                        + " has " + form(targets.get(i)) + " " + targets.get(i));
            }
        }
        if (targets.get(0).isAllLinear()) {
            return TargetModules.allLinear();
        }
        if (targets.get(0).isRegex()) {
            StringBuilder joined = new StringBuilder();
            for (TargetModules t : targets) {
                joined.append(joined.length() == 0 ? "" : "|").append('(').append(t.regexSource()).append(')');
            }
            return TargetModules.regex(joined.toString());
        }
        Set<String> names = new LinkedHashSet<>();
        targets.forEach(t -> names.addAll(t.names()));
        return TargetModules.names(names);
    }

    private static String form(TargetModules t) {
        return t.isAllLinear() ? "all-linear" : t.isRegex() ? "a regular expression" : "a list of names";
    }

    /** The tensors that are not LoRA matrices, each from the one adapter that holds it. */
    private Map<String, Tensor> carriedTensors() {
        List<String> classifiers = new ArrayList<>();
        for (LoraModules a : adapters) {
            if (a.config().taskType() == TaskType.SEQ_CLS) {
                classifiers.add(a.source());
            }
        }
        if (classifiers.size() > 1) {
            throw new IllegalArgumentException("cannot combine adapters that each carry a classification head (task_type SEQ_CLS: "
                    + String.join(", ", classifiers) + "): PEFT refuses to merge modules_to_save held by two adapters");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        Map<String, String> owner = new TreeMap<>();
        for (LoraModules a : adapters) {
            for (Map.Entry<String, Tensor> e : a.others().entrySet()) {
                String previous = owner.putIfAbsent(e.getKey(), a.source());
                if (previous != null) {
                    throw new IllegalArgumentException("cannot combine adapters " + previous + " and " + a.source()
                            + ": both hold " + Excerpt.quote(e.getKey()) + " (a module saved whole, modules_to_save), which "
                            + "cannot be merged (PEFT refuses the same)");
                }
                out.put(e.getKey(), e.getValue());
            }
        }
        return out;
    }

    /** A builder of {@link WeightedAdapterMerge}; DJL's words: {@code setX} required, {@code optX} optional. */
    public static final class Builder {
        private final Map<String, AdapterCheckpoint> checkpoints = new LinkedHashMap<>();
        private final List<Double> weights = new ArrayList<>();
        private CombinationType combinationType;
        private Double density;
        private MajoritySignMethod majoritySignMethod = MajoritySignMethod.TOTAL;
        private Integer svdRank;
        private Double svdClamp;
        private long seed;

        private Builder() {}

        /**
         * Adds an adapter with its weight (negative weights subtract).
         *
         * @param name names the adapter in messages (its name or directory); unique
         * @throws IllegalArgumentException if the name was already added
         */
        public Builder addAdapter(String name, AdapterCheckpoint adapter, double weight) {
            if (checkpoints.putIfAbsent(name, Objects.requireNonNull(adapter, "adapter")) != null) {
                throw new IllegalArgumentException("adapter " + Excerpt.quote(name) + " was added twice");
            }
            weights.add(weight);
            return this;
        }

        /**
         * Sets the adapters by name and their weights, in the same order (PEFT's {@code adapters} and
         * {@code weights}).
         *
         * @throws IllegalArgumentException if the counts differ
         */
        public Builder setAdapters(Map<String, AdapterCheckpoint> adapters, List<Double> weights) {
            if (adapters.size() != weights.size()) {
                throw new IllegalArgumentException("got " + adapters.size() + " adapters " + adapters.keySet() + " but "
                        + weights.size() + " weights " + weights + "; give one weight per adapter");
            }
            checkpoints.clear();
            this.weights.clear();
            int i = 0;
            for (Map.Entry<String, AdapterCheckpoint> e : adapters.entrySet()) {
                addAdapter(e.getKey(), e.getValue(), weights.get(i++));
            }
            return this;
        }

        /** Sets how the adapters combine (PEFT's {@code combination_type}; PEFT's default is {@code svd}). */
        public Builder setCombinationType(CombinationType combinationType) {
            this.combinationType = combinationType;
            return this;
        }

        /** Sets the fraction of entries the pruning types keep, in [0, 1] (PEFT's {@code density}; required by them). */
        public Builder optDensity(double density) {
            this.density = density;
            return this;
        }

        /** Sets how TIES elects each entry's sign (default {@code total}). */
        public Builder optMajoritySignMethod(MajoritySignMethod method) {
            this.majoritySignMethod = Objects.requireNonNull(method, "majority_sign_method");
            return this;
        }

        /** Sets the rank of the *_svd types' result (default: the largest rank of the adapters). */
        public Builder optSvdRank(int svdRank) {
            this.svdRank = svdRank;
            return this;
        }

        /** Clamps the *_svd types' factors to ± this quantile of their entries (default: no clamping). */
        public Builder optSvdClamp(double quantile) {
            this.svdClamp = quantile;
            return this;
        }

        /**
         * Accepts PEFT's {@code svd_full_matrices} (default true); the result is the same either
         * way, since only the leading singular triplets are kept.
         */
        public Builder optSvdFullMatrices(boolean fullMatrices) {
            return this;
        }

        /** Seeds DARE's random masks and the randomized SVD of large matrices (default 0). */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * Returns the validated merge.
         *
         * @throws IllegalArgumentException if no adapter was added, an adapter is not a LoRA adapter,
         *     a pruning type lacks its density, or a value is out of range
         * @throws NullPointerException if several adapters are given but no combination type
         */
        public WeightedAdapterMerge build() {
            return new WeightedAdapterMerge(this);
        }
    }
}
