package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;

/**
 * Rotary position embeddings in transformers' {@code rotate_half} layout
 * ({@code modeling_llama.py}: {@code LlamaRotaryEmbedding}, {@code rotate_half},
 * {@code apply_rotary_pos_emb}): the frequencies 1 / theta^(2i/d) for i below d/2, angles
 * position · frequency repeated for both halves of a head, and x·cos + rotate_half(x)·sin, where
 * rotate_half(x) = (-x[d/2:], x[:d/2]).
 */
final class RotaryEmbedding {
    private final float[] inverseFrequencies;

    RotaryEmbedding(int headDim, double theta) {
        inverseFrequencies = new float[headDim / 2];
        for (int i = 0; i < inverseFrequencies.length; i++) {
            // as transformers: the exponent 2i/d and theta^exponent in float32, then its reciprocal
            float exponent = (float) (2 * i) / headDim;
            inverseFrequencies[i] = 1f / (float) Math.pow(theta, exponent);
        }
    }

    /** Returns cos and sin [B, 1, T, d] of the angles at {@code positionIds} [B, T]. */
    NDList cosSin(NDArray positionIds) {
        NDArray positions = positionIds.toType(DataType.FLOAT32, false).expandDims(-1);
        NDArray frequencies = positions.mul(positionIds.getManager().create(inverseFrequencies));
        NDArray angles = frequencies.concat(frequencies, -1).expandDims(1);
        return new NDList(angles.cos(), angles.sin());
    }

    /** Rotates {@code x} [B, heads, T, d] by the angles whose cos and sin {@link #cosSin} gave. */
    static NDArray apply(NDArray x, NDArray cos, NDArray sin) {
        long half = x.getShape().get(3) / 2;
        NDArray first = x.get(new NDIndex("..., :{}", half));
        NDArray second = x.get(new NDIndex("..., {}:", half));
        NDArray rotated = second.neg().concat(first, -1);
        return x.mul(cos).add(rotated.mul(sin));
    }
}
