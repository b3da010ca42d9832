package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.function.Function;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.Tensor;

/**
 * Trainable parameters whose score adds a trained part to a frozen part that training never
 * changes, as LoRA's score base(x) + s·B·A·x + Δb adds an adapter to the base model's own score.
 * {@link AdaptedSgdTrainer} computes each training example's frozen part once, before the first
 * epoch, instead of at every step (when the stored parts take no more memory than the feature
 * vectors themselves), and asks for an example's score and gradients in one call, so work that
 * the two share is done once.
 */
public interface FrozenScoreParameters extends FeedForwardParameters {
    /**
     * Returns the frozen part of the score of {@code x}: the score when the trained part is zero,
     * as a new vector.
     */
    DenseVector frozenScore(SGDVector x);

    /**
     * Scores {@code x} exactly as {@link #predict} does, from its frozen part {@code frozen}, hands
     * that score to {@code loss}, and returns exactly what {@link #gradients(Pair, SGDVector)}
     * returns for the loss's result and {@code x}; or, when {@code sum} is given, adds those
     * gradients to {@code sum}'s tensors and returns {@code sum} (so a minibatch's gradients are
     * summed without a tensor per example; entries that a sparse gradient leaves out are left as
     * they are).
     *
     * @param frozen the frozen part of {@code x}'s score, in a vector of the caller's that this
     *     call may overwrite (with the score, for instance)
     * @param sum tensors returned by an earlier call, to add to; null for new tensors
     */
    Tensor[] gradients(SGDVector x, DenseVector frozen, Function<DenseVector, Pair<Double, SGDVector>> loss,
            Tensor[] sum);
}
