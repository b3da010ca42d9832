package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * One transformer layer of a BERT encoder, with Hugging Face's children: {@code attention}
 * ({@code self} and {@code output}), {@code intermediate} ({@code dense} with exact erf GELU) and
 * {@code output}.
 */
public final class BertLayer extends AbstractBlock {
    private final Attention attention;
    private final Intermediate intermediate;
    private final BertResidualOutput output;
    private final int intermediateSize;

    BertLayer(BertConfig config) {
        attention = addChildBlock("attention", new Attention(config));
        intermediate = addChildBlock("intermediate", new Intermediate(config));
        output = addChildBlock("output", new BertResidualOutput(config));
        intermediateSize = config.intermediateSize();
    }

    /**
     * Runs the layer on {@code hidden} [B, S, H] under an additive mask [B, 1, 1, n + S], with the
     * prefix-tuning key and value prefixes [n, H] (or nulls).
     */
    NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, NDArray prefixKey, NDArray prefixValue,
            boolean training) {
        NDArray attended = attention.apply(ps, hidden, additiveMask, prefixKey, prefixValue, training);
        NDArray expanded = intermediate.apply(ps, attended, training);
        return output.apply(ps, expanded, attended, training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(apply(ps, inputs.get(0), inputs.get(1), null, null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape hidden = inputShapes[0];
        Shape wide = hidden.slice(0, hidden.dimension() - 1).add(intermediateSize);
        attention.initialize(manager, dataType, hidden);
        intermediate.initialize(manager, dataType, hidden);
        output.initialize(manager, dataType, wide, hidden);
    }

    /** {@code attention}: {@code self} then the residual {@code output}. */
    static final class Attention extends AbstractBlock {
        private final BertSelfAttention self;
        private final BertResidualOutput output;

        Attention(BertConfig config) {
            self = addChildBlock("self", new BertSelfAttention(config));
            output = addChildBlock("output", new BertResidualOutput(config));
        }

        NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, NDArray prefixKey,
                NDArray prefixValue, boolean training) {
            NDArray attended = self.attend(ps, hidden, additiveMask, prefixKey, prefixValue, training);
            return output.apply(ps, attended, hidden, training);
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(apply(ps, inputs.get(0), inputs.get(1), null, null, training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0]};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            self.initialize(manager, dataType, inputShapes[0]);
            output.initialize(manager, dataType, inputShapes[0], inputShapes[0]);
        }
    }

    /** {@code intermediate}: {@code dense} to the intermediate width, then exact (erf) GELU. */
    static final class Intermediate extends AbstractBlock {
        private final Linear dense;

        Intermediate(BertConfig config) {
            dense = addChildBlock("dense", Linear.builder().setUnits(config.intermediateSize()).build());
        }

        NDArray apply(ParameterStore ps, NDArray hidden, boolean training) {
            return Activation.gelu(dense.forward(ps, new NDList(hidden), training).singletonOrThrow());
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            return new NDList(apply(ps, inputs.singletonOrThrow(), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return dense.getOutputShapes(inputShapes);
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            dense.initialize(manager, dataType, inputShapes[0]);
        }
    }
}
