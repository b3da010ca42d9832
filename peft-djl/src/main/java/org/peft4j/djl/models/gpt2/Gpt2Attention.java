package org.peft4j.djl.models.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.Conv1dLayers;
import org.peft4j.djl.models.KeyValueCache;

/**
 * Causal self-attention as transformers' {@code GPT2Attention} computes it (transformers 5.18,
 * {@code models/gpt2/modeling_gpt2.py}: {@code eager_attention_forward} at line 54, the scaling at
 * lines 96-100, the split of {@code c_attn}'s output at line 185):
 * one fused projection {@code c_attn} [3·n_embd] split into queries, keys and values in that order,
 * softmax(Q Kᵀ · scaling + mask) V per head, then {@code c_proj}. The scaling is 1 / sqrt(head size)
 * with {@code scale_attn_weights} (else 1), further divided by layer + 1 with
 * {@code scale_attn_by_inverse_layer_idx}. Both projections are {@code Conv1D} layers in Python,
 * {@code Linear} here (their weights transposed on load), so LoRA targets {@code c_attn} as PEFT does.
 */
public final class Gpt2Attention extends AbstractBlock implements Conv1dLayers {
    private final Linear qkv;
    private final Linear output;
    private final Gpt2Config config;
    private final float scaling;

    Gpt2Attention(Gpt2Config config, int layer) {
        this.config = config;
        float scale = config.scaleAttnWeights() ? (float) Math.pow(config.headDim(), -0.5) : 1f;
        scaling = config.scaleAttnByInverseLayerIdx() ? scale / (layer + 1) : scale;
        qkv = addChildBlock("c_attn", Linear.builder().setUnits(3L * config.nEmbd()).build());
        output = addChildBlock("c_proj", Linear.builder().setUnits(config.nEmbd()).build());
    }

    /**
     * Attends {@code hidden} [B, T, n_embd] to itself and to the positions in {@code cache}.
     *
     * @param additiveMask [B or 1, 1, T, past + T]: 0 where a query may attend, the float minimum elsewhere
     * @param cache earlier keys and values, extended with these; null for none
     * @param layer this block's index in the cache
     */
    NDArray attend(ParameterStore ps, NDArray hidden, NDArray additiveMask, KeyValueCache cache, int layer,
            boolean training) {
        Shape s = hidden.getShape();
        NDList split = qkv.forward(ps, new NDList(hidden), training).singletonOrThrow()
                .split(new long[] {config.nEmbd(), 2L * config.nEmbd()}, 2);
        NDArray q = heads(split.get(0));
        NDArray k = heads(split.get(1));
        NDArray v = heads(split.get(2));
        if (cache != null) {
            NDList all = cache.append(layer, k, v);
            k = all.get(0);
            v = all.get(1);
        }
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul(scaling).add(additiveMask);
        NDArray probs = Gpt2LMHeadModel.dropout(scores.softmax(-1), config.attnPdrop(), training);
        NDArray context = probs.matMul(v).transpose(0, 2, 1, 3).reshape(s.get(0), s.get(1), config.nEmbd());
        NDArray projected = output.forward(ps, new NDList(context), training).singletonOrThrow();
        return Gpt2LMHeadModel.dropout(projected, config.residPdrop(), training);
    }

    /** [B, T, n_embd] to [B, heads, T, head size]. */
    private NDArray heads(NDArray x) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), config.nHead(), config.headDim()).transpose(0, 2, 1, 3);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the block runs its attention through attend()");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape in = new Shape(1, config.nEmbd());
        qkv.initialize(manager, dataType, in);
        output.initialize(manager, dataType, in);
    }
}
