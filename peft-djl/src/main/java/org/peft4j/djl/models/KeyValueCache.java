package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * The keys and values every attention layer computed for the positions seen so far, so that
 * generation computes each new token's keys and values once (transformers' {@code DynamicCache}).
 * Layer l holds keys and values [B, key/value heads, length, head size]; {@link #append} extends
 * a layer and returns the whole. The arrays belong to the manager of the arrays appended last
 * (each step's, in a loop) until {@link #attach} moves them.
 */
public final class KeyValueCache {
    private final NDArray[] keys;
    private final NDArray[] values;

    /** An empty cache for a model with {@code layers} attention layers. */
    public KeyValueCache(int layers) {
        keys = new NDArray[layers];
        values = new NDArray[layers];
    }

    /** Returns the number of positions cached (0 when empty). */
    public long length() {
        return keys[0] == null ? 0 : keys[0].getShape().get(2);
    }

    /**
     * Appends a layer's new keys and values [B, heads, T, d] after the cached ones and returns the
     * layer's keys and values of every position, [B, heads, length + T, d].
     */
    public NDList append(int layer, NDArray newKeys, NDArray newValues) {
        if (keys[layer] == null) {
            keys[layer] = newKeys;
            values[layer] = newValues;
        } else {
            keys[layer] = keys[layer].concat(newKeys, 2);
            values[layer] = values[layer].concat(newValues, 2);
        }
        return new NDList(keys[layer], values[layer]);
    }

    /**
     * Appends prefix-tuning's keys and values to every layer, for all {@code batch} rows: the rows
     * [n, layers·2·heads·headDim] hold layer l's key in columns [2l·w, (2l+1)·w) and its value in the
     * next w (w = heads·headDim), each split into heads, as PEFT's {@code get_prompt} lays out
     * {@code past_key_values} ({@code peft_model.py}: view [B, n, layers·2, heads, d], permute to
     * [layers·2, B, heads, n, d]).
     */
    public void appendPrefixes(NDArray rows, long batch, int heads, int headDim) {
        long n = rows.getShape().get(0);
        NDArray perLayer = rows.reshape(n, 2L * keys.length, heads, headDim).transpose(1, 2, 0, 3);
        Shape expanded = new Shape(batch, heads, n, headDim);
        for (int layer = 0; layer < keys.length; layer++) {
            append(layer, perLayer.get(2 * layer).expandDims(0).broadcast(expanded),
                    perLayer.get(2 * layer + 1).expandDims(0).broadcast(expanded));
        }
    }

    /**
     * Moves every cached array to {@code manager} ({@link NDArray#attach}): a generator that runs
     * each decoding step in a scope of its own keeps the cache this way and frees the rest, the
     * cache's previous (shorter) arrays included.
     */
    public void attach(NDManager manager) {
        for (int layer = 0; layer < keys.length; layer++) {
            if (keys[layer] != null) {
                keys[layer].attach(manager);
                values[layer].attach(manager);
            }
        }
    }
}
