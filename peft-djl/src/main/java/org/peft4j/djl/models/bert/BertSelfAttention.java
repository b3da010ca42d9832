package org.peft4j.djl.models.bert;

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
import org.peft4j.djl.internal.NativeScalars;

/**
 * Multi-head scaled dot-product self-attention with the projections {@code query}, {@code key} and
 * {@code value}, as in Hugging Face's {@code BertSelfAttention}: softmax(Q Kᵀ / sqrt(d) + mask) V.
 */
public final class BertSelfAttention extends AbstractBlock {
    private final Linear query;
    private final Linear key;
    private final Linear value;
    private final int heads;
    private final int headSize;
    private final float dropout;

    BertSelfAttention(BertConfig config) {
        query = addChildBlock("query", Linear.builder().setUnits(config.hiddenSize()).build());
        key = addChildBlock("key", Linear.builder().setUnits(config.hiddenSize()).build());
        value = addChildBlock("value", Linear.builder().setUnits(config.hiddenSize()).build());
        heads = config.numAttentionHeads();
        headSize = config.headSize();
        dropout = config.attentionProbsDropoutProb();
    }

    /** [B, S, H] to [B, heads, S, headSize]. */
    private NDArray splitHeads(NDArray x) {
        Shape s = x.getShape();
        return x.reshape(s.get(0), s.get(1), heads, headSize).transpose(0, 2, 1, 3);
    }

    private static NDArray project(Linear linear, ParameterStore ps, NDArray x, boolean training) {
        return linear.forward(ps, new NDList(x), training).singletonOrThrow();
    }

    /**
     * Attends {@code hidden} [B, S, H] to itself, after the key and value prefixes [n, H] of
     * prefix-tuning if they are given, under an additive mask [B, 1, 1, n + S].
     */
    NDArray attend(ParameterStore ps, NDArray hidden, NDArray additiveMask, NDArray prefixKey, NDArray prefixValue,
            boolean training) {
        NDArray q = splitHeads(project(query, ps, hidden, training));
        NDArray k = splitHeads(withPrefix(prefixKey, project(key, ps, hidden, training)));
        NDArray v = splitHeads(withPrefix(prefixValue, project(value, ps, hidden, training)));
        NDArray scale = NativeScalars.of(hidden.getManager(), (float) Math.sqrt(headSize));
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2)).div(scale).add(additiveMask);
        NDArray probs = scores.softmax(-1);
        if (training && dropout > 0) {
            probs = Dropout.dropout(probs, dropout, true).singletonOrThrow();
        }
        Shape s = hidden.getShape();
        return probs.matMul(v).transpose(0, 2, 1, 3).reshape(s.get(0), s.get(1), s.get(2));
    }

    /** [n, H] prefix and [B, S, H] projections to [B, n + S, H]. */
    private static NDArray withPrefix(NDArray prefix, NDArray projected) {
        if (prefix == null) {
            return projected;
        }
        Shape s = projected.getShape();
        return prefix.expandDims(0).broadcast(new Shape(s.get(0), prefix.getShape().get(0), s.get(2))).concat(projected, 1);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(attend(ps, inputs.get(0), inputs.get(1), null, null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        query.initialize(manager, dataType, inputShapes[0]);
        key.initialize(manager, dataType, inputShapes[0]);
        value.initialize(manager, dataType, inputShapes[0]);
    }
}
