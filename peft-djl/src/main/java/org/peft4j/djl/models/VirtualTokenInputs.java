package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import org.peft4j.djl.VirtualTokenBlock;

/** What the families' encoders share to host prompt- and prefix-tuning ({@link org.peft4j.djl.VirtualTokenHost}). */
public final class VirtualTokenInputs {
    /** Added to attention scores at masked positions, as transformers does (the float minimum). */
    public static final float MASKED = -Float.MAX_VALUE;

    private VirtualTokenInputs() {}

    /**
     * Returns the virtual tokens shaped for one forward pass, [1, n, H] for a prompt and
     * [n, layers·2, H] for prefixes, owned by the inputs' manager
     * ({@link VirtualTokenBlock#virtualTokensFor}).
     */
    public static NDArray shaped(VirtualTokenBlock v, ParameterStore ps, NDArray inputIds, int layers, int hidden,
            boolean training) {
        NDArray tokens = v.virtualTokensFor(ps, inputIds, training);
        return v.kind() == VirtualTokenBlock.Kind.PROMPT
                ? tokens.expandDims(0)
                : tokens.reshape(v.numVirtualTokens(), 2L * layers, hidden);
    }

    /**
     * The attention mask as float [B, T], all ones when {@code attentionMask} is null, with
     * {@code virtualTokens} ones in front.
     */
    public static NDArray mask(NDArray inputIds, NDArray attentionMask, int virtualTokens) {
        NDManager manager = inputIds.getManager();
        Shape shape = inputIds.getShape();
        NDArray mask = attentionMask != null ? attentionMask.toType(DataType.FLOAT32, false)
                : manager.ones(shape, DataType.FLOAT32);
        return virtualTokens == 0 ? mask
                : manager.ones(new Shape(shape.get(0), virtualTokens), DataType.FLOAT32).concat(mask, 1);
    }

    /** The additive attention mask [B, 1, 1, T] of a float mask [B, T]: 0 where 1, {@link #MASKED} where 0. */
    public static NDArray additive(NDArray mask) {
        Shape s = mask.getShape();
        return mask.neg().add(1f).mul(MASKED).reshape(s.get(0), 1, 1, s.get(1));
    }
}
