package org.peft4j.djl.sft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.Loss;

/**
 * The next-token cross-entropy of a causal language model, as transformers' {@code ForCausalLMLoss}
 * computes it ({@code transformers/loss/loss_utils.py}): the logits at position t predict the label
 * at t + 1, positions labelled {@link SftExample#IGNORE} (-100) take no loss, and the loss is the
 * mean over the positions that do.
 */
public final class CausalLmLoss extends Loss {
    /** A loss named {@code causal_lm_loss}. */
    public CausalLmLoss() {
        super("causal_lm_loss");
    }

    /**
     * Evaluates the loss.
     *
     * @param labels the labels [B, T] (int64, -100 where ignored)
     * @param predictions the logits [B, T, vocab]
     */
    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray logits = predictions.singletonOrThrow();
        NDArray label = labels.singletonOrThrow();
        NDArray shiftedLogits = logits.get(new NDIndex(":, :-1, :"));
        NDArray shiftedLabels = label.get(new NDIndex(":, 1:"));
        NDArray learned = shiftedLabels.neq(SftExample.IGNORE);
        NDArray safeLabels = shiftedLabels.mul(learned.toType(DataType.INT64, false)).expandDims(-1);
        NDArray logProbs = shiftedLogits.logSoftmax(-1).gather(safeLabels, 2).squeeze(-1);
        NDArray weights = learned.toType(DataType.FLOAT32, false);
        return logProbs.mul(weights).sum().neg().div(weights.sum().maximum(1f));
    }
}
