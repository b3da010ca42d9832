package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.KeyValueCache;

/**
 * Grouped-query self-attention as transformers' {@code LlamaAttention} computes it: the projections
 * {@code q_proj}, {@code k_proj}, {@code v_proj} and {@code o_proj}; rotary positions on queries and
 * keys; each key/value head shared by {@code num_attention_heads / num_key_value_heads} query heads
 * ({@code repeat_kv}: head h reads key/value head h / group); softmax(Q Kᵀ / sqrt(d) + mask) V.
 */
public final class LlamaAttention extends AbstractBlock {
    private final Linear queries;
    private final Linear keys;
    private final Linear values;
    private final Linear output;
    private final LlamaConfig config;

    LlamaAttention(LlamaConfig config) {
        this.config = config;
        int queryWidth = config.numAttentionHeads() * config.headDim();
        int keyValueWidth = config.numKeyValueHeads() * config.headDim();
        queries = addChildBlock("q_proj", Linear.builder().setUnits(queryWidth).optBias(config.attentionBias()).build());
        keys = addChildBlock("k_proj", Linear.builder().setUnits(keyValueWidth).optBias(config.attentionBias()).build());
        values = addChildBlock("v_proj", Linear.builder().setUnits(keyValueWidth).optBias(config.attentionBias()).build());
        output = addChildBlock("o_proj", Linear.builder().setUnits(config.hiddenSize()).optBias(config.outputBias()).build());
    }

    /**
     * Attends {@code hidden} [B, T, H] to itself and to the positions in {@code cache}.
     *
     * @param cos the rotary cosines [B or 1, 1, T, d]
     * @param sin the rotary sines
     * @param additiveMask [B or 1, 1, T, past + T]: 0 where a query may attend, the float minimum elsewhere
     * @param cache earlier keys and values, extended with these; null for none
     * @param layer this layer's index in the cache
     */
    NDArray attend(ParameterStore ps, NDArray hidden, NDArray cos, NDArray sin, NDArray additiveMask,
            KeyValueCache cache, int layer, boolean training) {
        Shape s = hidden.getShape();
        NDArray q = RotaryEmbedding.apply(heads(project(queries, ps, hidden, training), config.numAttentionHeads()), cos, sin);
        NDArray k = RotaryEmbedding.apply(heads(project(keys, ps, hidden, training), config.numKeyValueHeads()), cos, sin);
        NDArray v = heads(project(values, ps, hidden, training), config.numKeyValueHeads());
        if (cache != null) {
            NDList all = cache.append(layer, k, v);
            k = all.get(0);
            v = all.get(1);
        }
        k = shareKeyValueHeads(k);
        v = shareKeyValueHeads(v);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).mul((float) (1 / Math.sqrt(config.headDim()))).add(additiveMask);
        NDArray probs = scores.softmax(-1);
        if (training && config.attentionDropout() > 0) {
            probs = Dropout.dropout(probs, config.attentionDropout(), true).singletonOrThrow();
        }
        NDArray context = probs.matMul(v).transpose(0, 2, 1, 3)
                .reshape(s.get(0), s.get(1), (long) config.numAttentionHeads() * config.headDim());
        return project(output, ps, context, training);
    }

    private static NDArray project(Linear linear, ParameterStore ps, NDArray x, boolean training) {
        return linear.forward(ps, new NDList(x), training).singletonOrThrow();
    }

    /** [B, T, heads·d] to [B, heads, T, d]. */
    private NDArray heads(NDArray x, int count) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), count, config.headDim()).transpose(0, 2, 1, 3);
    }

    /** transformers' {@code repeat_kv}: [B, kv heads, S, d] to [B, heads, S, d], each kv head repeated in place. */
    private NDArray shareKeyValueHeads(NDArray x) {
        int group = config.queriesPerKeyValue();
        if (group == 1) {
            return x;
        }
        Shape s = x.getShape();
        return x.expandDims(2).broadcast(new Shape(s.get(0), s.get(1), group, s.get(2), s.get(3)))
                .reshape(s.get(0), s.get(1) * group, s.get(2), s.get(3));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the decoder layer runs its attention through attend()");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape in = new Shape(1, config.hiddenSize());
        queries.initialize(manager, dataType, in);
        keys.initialize(manager, dataType, in);
        values.initialize(manager, dataType, in);
        output.initialize(manager, dataType, new Shape(1, (long) config.numAttentionHeads() * config.headDim()));
    }
}
