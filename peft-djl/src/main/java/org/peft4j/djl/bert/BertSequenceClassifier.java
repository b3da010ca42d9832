package org.peft4j.djl.bert;

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
 * A sequence classifier: a {@link BertModel} under the path {@code bert}, pooling, dropout while
 * training, and a linear head under the path {@code classifier}, as Hugging Face's
 * {@code BertForSequenceClassification} names them. Give {@code modules_to_save: ["classifier"]}
 * to train the head with an adapter and save it alongside.
 *
 * <p>Input: as {@link BertModel}. Output: logits [B, labels].
 */
public final class BertSequenceClassifier extends AbstractBlock {
    private final BertModel bert;
    private final Linear classifier;
    private final Pooling pooling;
    private final int numLabels;

    /**
     * Puts a new head of {@code numLabels} outputs on {@code bert}; initialize the head before use.
     * One output makes a regressor, as Hugging Face's {@code num_labels=1} does.
     */
    public BertSequenceClassifier(BertModel bert, int numLabels, Pooling pooling) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be at least 1, got " + numLabels);
        }
        this.bert = addChildBlock("bert", bert);
        this.classifier = addChildBlock("classifier", Linear.builder().setUnits(numLabels).build());
        this.pooling = pooling;
        this.numLabels = numLabels;
    }

    /** Returns the encoder. */
    public BertModel bert() {
        return bert;
    }

    /** Returns the number of labels. */
    public int numLabels() {
        return numLabels;
    }

    /** Returns the pooling. */
    public Pooling pooling() {
        return pooling;
    }

    /**
     * Initializes only the head (the encoder is already loaded), with DJL's default initializer
     * for linear layers.
     */
    public BertSequenceClassifier initializeHead(NDManager manager) {
        classifier.initialize(manager, DataType.FLOAT32, new Shape(1, bert.config().hiddenSize()));
        return this;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray hidden = bert.encode(ps, inputs.get(0), mask, inputs.size() > 2 ? inputs.get(2) : null, training);
        NDArray pooled = pooling.pool(hidden, mask);
        float dropout = bert.config().hiddenDropoutProb();
        if (training && dropout > 0) {
            pooled = Dropout.dropout(pooled, dropout, true).singletonOrThrow();
        }
        return classifier.forward(ps, new NDList(pooled), training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), numLabels)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        bert.initialize(manager, dataType, inputShapes);
        classifier.initialize(manager, dataType, new Shape(inputShapes[0].get(0), bert.config().hiddenSize()));
    }
}
