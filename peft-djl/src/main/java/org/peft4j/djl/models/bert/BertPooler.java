package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * BERT's pooler, as Hugging Face's {@code BertPooler}: tanh(dense(h[:, 0])), the hidden state of
 * the first position through a [hidden, hidden] linear layer named {@code dense}. It is what
 * {@code BertForSequenceClassification} classifies.
 *
 * <p>Input: hidden states [B, T, H]. Output: [B, H].
 */
public final class BertPooler extends AbstractBlock {
    private final Linear dense;
    private final int hiddenSize;

    BertPooler(int hiddenSize) {
        this.hiddenSize = hiddenSize;
        dense = addChildBlock("dense", Linear.builder().setUnits(hiddenSize).build());
    }

    /** Returns the linear layer {@code dense}. */
    public Linear dense() {
        return dense;
    }

    /** Pools hidden states [B, T, H] to [B, H]. */
    NDArray pool(ParameterStore ps, NDArray hidden, boolean training) {
        NDArray first = hidden.get(new NDIndex(":, 0, :"));
        return dense.forward(ps, new NDList(first), training).singletonOrThrow().tanh();
    }

    /**
     * Gives a pooler that no checkpoint provided the start Hugging Face's {@code _init_weights}
     * gives a new {@code nn.Linear}: weights from N(0, {@code initializerRange}), biases 0.
     */
    void initializeFresh(NDManager manager, float initializerRange) {
        dense.initialize(manager, DataType.FLOAT32, new Shape(1, hiddenSize));
        NDArray weight = dense.getParameters().get("weight").getArray();
        weight.set(manager.randomNormal(0, initializerRange, weight.getShape(), DataType.FLOAT32).toFloatArray());
        dense.getParameters().get("bias").getArray().set(new float[hiddenSize]);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(pool(ps, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), hiddenSize)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        dense.initialize(manager, dataType, new Shape(inputShapes[0].get(0), hiddenSize));
    }
}
