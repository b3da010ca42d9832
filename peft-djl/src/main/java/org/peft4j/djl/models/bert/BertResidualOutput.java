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

/**
 * BERT's post-LayerNorm residual: LayerNorm(dropout(dense(h)) + residual), with the children
 * {@code dense} and {@code LayerNorm}. It is both {@code attention.output} and {@code output} of a
 * Hugging Face BERT layer.
 */
public final class BertResidualOutput extends AbstractBlock {
    private final Linear dense;
    private final BertLayerNorm layerNorm;
    private final float dropout;

    BertResidualOutput(BertConfig config) {
        dense = addChildBlock("dense", Linear.builder().setUnits(config.hiddenSize()).build());
        layerNorm = addChildBlock("LayerNorm", new BertLayerNorm(config.hiddenSize(), config.layerNormEps()));
        dropout = config.hiddenDropoutProb();
    }

    NDArray apply(ParameterStore ps, NDArray hidden, NDArray residual, boolean training) {
        NDArray projected = dense.forward(ps, new NDList(hidden), training).singletonOrThrow();
        if (training && dropout > 0) {
            projected = Dropout.dropout(projected, dropout, true).singletonOrThrow();
        }
        return layerNorm.normalize(ps, projected.add(residual), training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(apply(ps, inputs.get(0), inputs.get(1), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[1]};
    }

    /** The first input shape is the hidden input's (its last axis may differ from the output's). */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        dense.initialize(manager, dataType, inputShapes[0]);
        layerNorm.initialize(manager, dataType, inputShapes[0]);
    }
}
