package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/** The additive attention mask of a causal language model, as transformers' {@code create_causal_mask} builds it. */
public final class CausalMask {
    private CausalMask() {}

    /**
     * Returns the additive mask [B or 1, 1, T, past + T]: 0 where query i may attend to key j
     * ({@code j <= past + i}, and key j is not padding), the float minimum elsewhere.
     *
     * @param attentionMask [B, past + T] (1 for real tokens, 0 for padding), or null for no padding
     * @param length T, the number of new positions
     * @param past the number of cached positions before them
     */
    public static NDArray additive(NDManager manager, NDArray attentionMask, long length, long past) {
        NDArray queries = manager.arange(past, past + length).reshape(length, 1);
        NDArray keys = manager.arange(past + length).reshape(1, past + length);
        NDArray allowed = keys.lte(queries).expandDims(0).expandDims(0);
        if (attentionMask != null) {
            NDArray real = attentionMask.neq(0).expandDims(1).expandDims(1);
            allowed = allowed.logicalAnd(real);
        }
        return allowed.toType(DataType.FLOAT32, false).sub(1f).mul(Float.MAX_VALUE);
    }
}
