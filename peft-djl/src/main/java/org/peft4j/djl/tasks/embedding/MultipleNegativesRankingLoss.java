package org.peft4j.djl.tasks.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;
import org.peft4j.djl.internal.NativeScalars;

/**
 * sentence-transformers' {@code MultipleNegativesRankingLoss} (InfoNCE with in-batch negatives) for
 * (anchor, positive) pairs: every anchor is scored against every positive of the batch by cosine
 * similarity times {@code scale}, and the loss is the cross-entropy of each anchor's scores with its
 * own positive as the target, averaged over the batch. The other pairs' positives are the negatives.
 *
 * <p>Predictions: the anchors' and the positives' embeddings, [B, H] each (as
 * {@link SentenceEmbedder} returns them for a pair batch). Labels are not read: the target of row i
 * is column i.
 */
public final class MultipleNegativesRankingLoss extends Loss {
    /** sentence-transformers' default scale, 1 / temperature: cosines in [-1, 1] become logits in [-20, 20]. */
    public static final float DEFAULT_SCALE = 20f;

    private final float scale;

    /** The loss with sentence-transformers' default scale, 20. */
    public MultipleNegativesRankingLoss() {
        this(DEFAULT_SCALE);
    }

    /**
     * The loss with its own scale.
     *
     * @throws IllegalArgumentException if the scale is not a positive number
     */
    public MultipleNegativesRankingLoss(float scale) {
        super("MultipleNegativesRankingLoss");
        if (!(scale > 0) || !Float.isFinite(scale)) {
            throw new IllegalArgumentException("scale must be a positive number, got " + scale);
        }
        this.scale = scale;
    }

    /** Returns the scale the cosine similarities are multiplied by. */
    public float scale() {
        return scale;
    }

    /** Returns the mean cross-entropy of the scaled cosine similarities, a scalar. */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        return evaluate(predictions.get(0), predictions.get(1));
    }

    /** The loss of anchors [B, H] against positives [B, H], a scalar. */
    public NDArray evaluate(NDArray anchors, NDArray positives) {
        if (!anchors.getShape().equals(positives.getShape()) || anchors.getShape().dimension() != 2) {
            throw new IllegalArgumentException("anchors and positives must both be [batch, hidden], got "
                    + anchors.getShape() + " and " + positives.getShape());
        }
        NDArray scores = similarities(anchors, positives).mul(NativeScalars.of(anchors.getManager(), scale));
        long batch = anchors.getShape().get(0);
        NDArray diagonal = anchors.getManager().eye((int) batch);
        return scores.logSoftmax(1).mul(diagonal).sum().div(NativeScalars.of(anchors.getManager(), -batch));
    }

    /** The cosine similarity of every anchor [N, H] with every positive [M, H]: [N, M]. */
    public static NDArray similarities(NDArray anchors, NDArray positives) {
        return EmbeddingPooling.l2Normalize(anchors).matMul(EmbeddingPooling.l2Normalize(positives).transpose());
    }
}
