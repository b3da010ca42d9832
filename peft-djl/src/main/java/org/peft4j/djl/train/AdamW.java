package org.peft4j.djl.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.tracker.Tracker;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.TensorConversions;

/**
 * AdamW (Loshchilov and Hutter) as DJL's {@code Optimizer.adamW()} computes it, with the same
 * native update, learning-rate {@link Tracker}, bias correction, epsilon and decoupled weight
 * decay, so that the weights come out bit for bit the same, but without the copies and large
 * temporaries that made DJL's step slow, and with gradient clipping folded in. Update t (from 1)
 * with learning rate lr = tracker(t), gradient g scaled by the clipping coefficient c, and
 * k = lr·sqrt(1 - β2^t)/(1 - β1^t):
 *
 * <pre>
 * w -= lr·wd·w
 * m  = β1·m + (1 - β1)·c·g
 * v  = β2·v + (1 - β2)·(c·g)²
 * w -= k·m / (sqrt(v) + ε)
 * g  = 0
 * </pre>
 *
 * <p>Where DJL's step lost its time: its parameter server copies every gradient before the update,
 * and the native update copies it again and makes six more temporaries the size of the weight
 * array. On the CPU the glibc allocator maps each array above 32 MB (MiniLM's 11.7M-weight
 * word-embedding table) afresh, so every temporary of that table is paid for in page faults. Here
 * the update runs on the gradient itself, and an array above {@value #PIECE_ELEMENTS} elements is
 * updated in pieces of whole rows (views), so that the native update's temporaries stay small,
 * come from the allocator's free lists and stay in the cache. The clipping coefficient is the
 * native update's gradient rescaling, so the gradients are never scaled in a pass of their own.
 *
 * <p>Each parameter may learn at its own multiple of the tracker's rate (LoRA+ gives B a higher
 * rate than A); its weight decay then uses that rate too, as PyTorch's parameter groups do. Call
 * {@link #step} after the backward pass, outside a gradient collector; close the optimizer to free
 * its moments.
 */
public final class AdamW implements AutoCloseable {
    /** Arrays with more elements than this are updated in pieces of whole rows (1 MB of float32). */
    static final long PIECE_ELEMENTS = 1L << 18;

    private final Tracker learningRateTracker;
    private final float beta1;
    private final float beta2;
    private final float epsilon;
    private final float weightDecay;
    private final Map<Parameter, Float> multipliers;
    private final Map<String, Moments> moments = new HashMap<>();
    private NDManager stateManager;
    private boolean slicesAreViews;
    private int updates;

    private AdamW(Builder b, Map<Parameter, Float> multipliers) {
        learningRateTracker = b.learningRateTracker;
        beta1 = b.beta1;
        beta2 = b.beta2;
        epsilon = b.epsilon;
        weightDecay = b.weightDecay;
        this.multipliers = multipliers;
    }

    /** Starts an AdamW with DJL's and PyTorch's defaults: rate 1e-3, β1 0.9, β2 0.999, ε 1e-8, weight decay 0.01. */
    public static Builder builder() {
        return new Builder();
    }

    /** The first and second moments of one parameter. */
    private record Moments(NDArray mean, NDArray variance) {}

    /** The updates made so far; the next one is number {@code updateCount() + 1} for the tracker. */
    public int updateCount() {
        return updates;
    }

    /**
     * Updates each parameter once from its gradient, scaled by {@code gradientScale} (the clipping
     * coefficient, see {@link GradientClipping#coefficient}; 1 for none), then zeroes the gradients.
     * Parameters that do not require a gradient are skipped. One whose gradient no backward pass
     * has computed (the forward pass did not use it) updates with a gradient of zeros, as in DJL,
     * so its weight still decays; PyTorch's optimizers skip such a parameter.
     *
     * @throws IllegalArgumentException if the learning rate or the scale is not a finite number, or
     *     the scale is below 0
     */
    public void step(Collection<Parameter> parameters, float gradientScale) {
        if (!(gradientScale >= 0) || !Float.isFinite(gradientScale)) {
            throw new IllegalArgumentException("the gradient scale must be a finite number >= 0, got " + gradientScale);
        }
        int t = updates + 1;
        float learningRate = learningRateTracker.getNewValue(t);
        if (!Float.isFinite(learningRate)) {
            throw new IllegalArgumentException("the learning rate of update " + t + " is " + learningRate);
        }
        // as DJL's AdamW: the bias correction in double, rounded once to float
        double correction = Math.sqrt(1 - Math.pow(beta2, t)) / (1 - Math.pow(beta1, t));
        for (Parameter p : parameters) {
            NDArray weight = p.getArray();
            if (!weight.hasGradient()) {
                continue;
            }
            float rate = learningRate * multipliers.getOrDefault(p, 1f);
            float biasCorrected = (float) (rate * correction);
            Moments state = moments.computeIfAbsent(p.getId(), id -> newMoments(weight));
            try (NDArray gradient = weight.getGradient()) {
                inPieces(weight, gradient, state, (w, g, m, v, last) -> w.getNDArrayInternal().adamUpdate(
                        new NDList(w, g, m, v), new NDList(last ? weight : w), rate, biasCorrected, weightDecay,
                        gradientScale, -1, beta1, beta2, epsilon, true, true));
            }
        }
        updates = t;
    }

    /** Copies of {@code parameter}'s first and second moments, or null before its first update. */
    Tensor[] moments(Parameter parameter) {
        Moments state = moments.get(parameter.getId());
        return state == null ? null
                : new Tensor[] {TensorConversions.toTensor(state.mean()), TensorConversions.toTensor(state.variance())};
    }

    /**
     * Sets {@code parameter}'s moments to saved values, or forgets them if {@code mean} is null
     * (as before its first update).
     */
    void restoreMoments(Parameter parameter, Tensor mean, Tensor variance) {
        if (mean == null) {
            Moments old = moments.remove(parameter.getId());
            if (old != null) {
                old.mean().close();
                old.variance().close();
            }
            return;
        }
        Moments state = moments.computeIfAbsent(parameter.getId(), id -> newMoments(parameter.getArray()));
        TensorConversions.copyInto(mean, state.mean());
        TensorConversions.copyInto(variance, state.variance());
    }

    /** Sets the updates made so far, so that the next update is number {@code updates + 1} for the tracker and the bias correction. */
    void restoreUpdateCount(int updates) {
        if (updates < 0) {
            throw new IllegalArgumentException("the update count must be >= 0, got " + updates);
        }
        this.updates = updates;
    }

    /** DJL's native AdamW update of matching pieces of a weight, its gradient and its two moments. */
    @FunctionalInterface
    private interface PieceUpdate {
        /**
         * Updates one piece; {@code last} says that it is the weight's last, whose update also zeroes
         * the weight's whole gradient (DJL's update zeroes the gradient of the array it is handed, and
         * a view has none of its own).
         */
        void apply(NDArray weight, NDArray gradient, NDArray mean, NDArray variance, boolean last);
    }

    /**
     * Applies {@code update} to the whole arrays if they are small, on an accelerator or on an
     * engine whose slices are copies, and otherwise to views of at most {@value #PIECE_ELEMENTS}
     * elements' worth of whole rows, one after the other.
     */
    private void inPieces(NDArray weight, NDArray gradient, Moments state, PieceUpdate update) {
        Shape shape = weight.getShape();
        long rows = shape.dimension() == 0 ? 1 : shape.get(0);
        if (shape.size() <= PIECE_ELEMENTS || rows == 1 || !slicesAreViews || weight.getDevice().isGpu()) {
            update.apply(weight, gradient, state.mean(), state.variance(), true);
            return;
        }
        long rowsPerPiece = Math.max(1, PIECE_ELEMENTS / (shape.size() / rows));
        for (long from = 0; from < rows; from += rowsPerPiece) {
            long to = Math.min(rows, from + rowsPerPiece);
            NDIndex piece = new NDIndex().addSliceDim(from, to);
            try (NDArray w = weight.get(piece); NDArray g = gradient.get(piece); NDArray m = state.mean().get(piece);
                    NDArray v = state.variance().get(piece)) {
                update.apply(w, g, m, v, to == rows);
            }
        }
    }

    /** Zero moments for {@code weight}, in the optimizer's manager (made with the first of them). */
    private Moments newMoments(NDArray weight) {
        if (stateManager == null) {
            stateManager = weight.getManager().newSubManager();
            slicesAreViews = slicesAreViews(stateManager);
        }
        NDArray mean = weight.zerosLike();
        NDArray variance = weight.zerosLike();
        mean.attach(stateManager);
        variance.attach(stateManager);
        return new Moments(mean, variance);
    }

    /**
     * Whether writing into a slice of an array writes into the array (PyTorch's basic slices are
     * views); an engine that copies gets the whole arrays instead, so that no update is lost.
     */
    private static boolean slicesAreViews(NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray array = scope.zeros(new Shape(2, 1));
            array.get(new NDIndex().addSliceDim(1, 2)).addi(scope.create(1f));
            return array.getFloat(1, 0) == 1f;
        }
    }

    /** Frees the moments; a later step starts them afresh from zero. */
    @Override
    public void close() {
        if (stateManager != null) {
            stateManager.close();
            stateManager = null;
        }
        moments.clear();
    }

    /** Builds an {@link AdamW}; {@code optX} for what has a default. */
    public static final class Builder {
        private Tracker learningRateTracker = Tracker.fixed(1e-3f);
        private float beta1 = 0.9f;
        private float beta2 = 0.999f;
        private float epsilon = 1e-8f;
        private float weightDecay = 0.01f;
        private Map<Parameter, Float> multipliers = Map.of();

        private Builder() {}

        /** Sets the learning rate of each update (a {@link LearningRateSchedule}, say); default fixed 1e-3. */
        public Builder optLearningRateTracker(Tracker tracker) {
            this.learningRateTracker = tracker;
            return this;
        }

        /** Sets the decay of the first moment; default 0.9. */
        public Builder optBeta1(float beta1) {
            this.beta1 = beta1;
            return this;
        }

        /** Sets the decay of the second moment; default 0.999. */
        public Builder optBeta2(float beta2) {
            this.beta2 = beta2;
            return this;
        }

        /** Sets the term added to the root of the second moment; default 1e-8. */
        public Builder optEpsilon(float epsilon) {
            this.epsilon = epsilon;
            return this;
        }

        /** Sets the decoupled weight decay ({@code weight_decay}); default 0.01. */
        public Builder optWeightDecay(float weightDecay) {
            this.weightDecay = weightDecay;
            return this;
        }

        /**
         * Gives some parameters a learning rate of the tracker's times their multiplier (LoRA+'s
         * B matrices, say); all others learn at the tracker's rate.
         */
        public Builder optLearningRateMultipliers(Map<Parameter, Float> multipliers) {
            this.multipliers = multipliers;
            return this;
        }

        /**
         * Returns the optimizer.
         *
         * @throws IllegalArgumentException naming the first value that is out of range
         */
        public AdamW build() {
            if (learningRateTracker == null) {
                throw new IllegalArgumentException("the learning-rate tracker is null");
            }
            if (!(beta1 >= 0 && beta1 < 1)) {
                throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
            }
            if (!(beta2 >= 0 && beta2 < 1)) {
                throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
            }
            if (!(epsilon > 0) || !Float.isFinite(epsilon)) {
                throw new IllegalArgumentException("epsilon must be a finite number > 0, got " + epsilon);
            }
            if (!(weightDecay >= 0) || !Float.isFinite(weightDecay)) {
                throw new IllegalArgumentException("weight_decay must be a finite number >= 0, got " + weightDecay);
            }
            Map<Parameter, Float> copy = new IdentityHashMap<>();
            multipliers.forEach((p, m) -> {
                if (m == null || !(m >= 0) || !Float.isFinite(m)) {
                    throw new IllegalArgumentException("the learning-rate multiplier of parameter " + p.getName()
                            + " must be a finite number >= 0, got " + m);
                }
                copy.put(p, m);
            });
            return new AdamW(this, copy);
        }
    }
}
