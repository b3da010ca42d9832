package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/** How a sequence of hidden states [B, T, H] becomes one vector per sequence [B, H]. */
public enum Pooling {
    /** The hidden state of the first token ({@code [CLS]}). */
    CLS,
    /** The mean of the hidden states of the real (unmasked) tokens, as sentence-transformers pool. */
    MEAN;

    /** Pools {@code hidden} [B, T, H] under {@code attentionMask} [B, T] (null: no padding). */
    public NDArray pool(NDArray hidden, NDArray attentionMask) {
        if (this == CLS) {
            return hidden.get(new NDIndex(":, 0, :"));
        }
        if (attentionMask == null) {
            return hidden.mean(new int[] {1});
        }
        NDArray mask = attentionMask.toType(hidden.getDataType(), false).expandDims(2);
        return hidden.mul(mask).sum(new int[] {1}).div(mask.sum(new int[] {1}).maximum(1e-9f));
    }
}
