package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import org.peft4j.djl.VirtualTokenBlock;

/** What the families share to host prompt- and prefix-tuning ({@link org.peft4j.djl.VirtualTokenHost}), encoders and decoders. */
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

    /**
     * A decoder's inputs with its virtual tokens in place, as PEFT's {@code PeftModelForCausalLM}
     * passes them (peft_model.py 2134-2170): a prompt's vectors before the token embeddings (its
     * positions 0 to n - 1, the given positions moved past them); a prefix as the first n keys and
     * values of every layer's cache; the mask widened by n ones. Only the first pass of a
     * generation (no cache yet) adds them; later passes only widen the mask and move the positions.
     *
     * @param embeddings the token embeddings [B, T, H]
     * @param attentionMask [B, past + T], or null
     * @param positionIds [B, T], or null for the default positions
     * @param cache the cache of earlier positions, or null
     * @param promptTokens the virtual tokens at the front of the hidden states, which the model drops before its head
     * @param past the cached positions, prefixes included
     */
    public record DecoderInputs(NDArray embeddings, NDArray attentionMask, NDArray positionIds, KeyValueCache cache,
            int promptTokens, long past) {}

    /**
     * Puts the virtual tokens of {@code v} (none when null) into a decoder's inputs ({@link DecoderInputs}).
     *
     * @param layers the decoder's layers, for a new cache
     * @param keyValueHeads the heads of the keys and values a prefix fills
     * @param headDim the size of each head
     */
    public static DecoderInputs decoder(VirtualTokenBlock v, ParameterStore ps, NDArray inputIds, NDArray embeddings,
            NDArray attentionMask, NDArray positionIds, KeyValueCache cache, int layers, int keyValueHeads, int headDim,
            boolean training) {
        long past = cache == null ? 0 : cache.length();
        if (v == null) {
            return new DecoderInputs(embeddings, attentionMask, positionIds, cache, 0, past);
        }
        NDManager manager = inputIds.getManager();
        long batch = inputIds.getShape().get(0);
        int n = v.numVirtualTokens();
        NDArray mask = attentionMask == null ? null
                : manager.ones(new Shape(batch, n), attentionMask.getDataType()).concat(attentionMask, 1);
        NDArray positions = positionIds == null ? null : positionIds.add(n);
        if (past > 0) {
            return new DecoderInputs(embeddings, mask, positions, cache, 0, past);
        }
        NDArray tokens = v.virtualTokensFor(ps, inputIds, training);
        if (v.kind() == VirtualTokenBlock.Kind.PROMPT) {
            long hidden = embeddings.getShape().get(2);
            NDArray withPrompt = tokens.expandDims(0).broadcast(new Shape(batch, n, hidden)).concat(embeddings, 1);
            NDArray promptPositions = positions == null ? null : manager.arange(0, n, 1, DataType.INT64).expandDims(0)
                    .broadcast(new Shape(batch, n)).concat(positions, 1);
            return new DecoderInputs(withPrompt, mask, promptPositions, cache, n, past);
        }
        KeyValueCache prefixed = cache != null ? cache : new KeyValueCache(layers);
        prefixed.appendPrefixes(tokens, batch, keyValueHeads, headDim);
        return new DecoderInputs(embeddings, mask, positions, prefixed, 0, n);
    }
}
