package org.peft4j.djl.tasks.tagging;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.Loss;

/**
 * The per-token cross-entropy of a token classifier, as {@code BertForTokenClassification} computes
 * it ({@code CrossEntropyLoss()} over {@code logits.view(-1, num_labels)}, whose
 * {@code ignore_index} is -100): tokens labelled {@link #IGNORE} take no loss and no gradient, and
 * the loss is the mean over the tokens that are labelled. Where no token is labelled the loss is 0
 * (PyTorch gives NaN).
 */
public final class TokenCrossEntropyLoss extends Loss {
    /** The label of tokens that take no loss: later sub-tokens of a word, special tokens, padding. */
    public static final int IGNORE = -100;

    /** A loss named {@code token_cross_entropy}. */
    public TokenCrossEntropyLoss() {
        super("token_cross_entropy");
    }

    /**
     * Evaluates the loss.
     *
     * @param labels the label of each token [B, T] (int64, {@link #IGNORE} where ignored)
     * @param predictions the logits [B, T, labels]
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.singletonOrThrow();
        NDArray label = labels.singletonOrThrow();
        NDArray learned = label.neq(IGNORE);
        NDArray safeLabels = label.mul(learned.toType(DataType.INT64, false)).expandDims(-1);
        NDArray logProbs = logits.logSoftmax(-1).gather(safeLabels, 2).squeeze(-1);
        NDArray weights = learned.toType(DataType.FLOAT32, false);
        return logProbs.mul(weights).sum().neg().div(weights.sum().maximum(1f));
    }
}
