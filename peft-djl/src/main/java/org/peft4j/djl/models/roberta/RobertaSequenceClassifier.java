package org.peft4j.djl.models.roberta;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.djl.models.SequenceClassifierBlock;
import org.peft4j.djl.models.TextClassifier;

/**
 * Hugging Face's {@code RobertaForSequenceClassification} (and XLM-RoBERTa's and CamemBERT's):
 * the encoder under {@code roberta} and {@code classifier}, a {@link Head} with {@code dense} and
 * {@code out_proj}, on the first position's hidden state ({@code <s>}, or under prompt-tuning the
 * first virtual token, as in PEFT). As in transformers 5.18 ({@code models/roberta/modeling_roberta.py}
 * line 907, {@code RobertaModel(config, add_pooling_layer=False)}; line 946,
 * {@code self.classifier(sequence_output)}), the encoder has no pooler and the head reads the last
 * hidden states. Make one with {@link RobertaFamily#sequenceClassifier}.
 */
public final class RobertaSequenceClassifier extends SequenceClassifierBlock {
    private final RobertaModel roberta;
    private final Head classifier;

    RobertaSequenceClassifier(RobertaModel roberta, int numLabels) {
        super(RobertaFamily.PREFIX, roberta, numLabels);
        this.roberta = roberta;
        classifier = addChildBlock("classifier", new Head(roberta.hiddenSize(), numLabels, roberta.headDropout()));
    }

    /** Initializes the head as transformers does; returns this. */
    RobertaSequenceClassifier initializeHead(NDManager manager) {
        initializeHeadLayers(manager);
        return this;
    }

    @Override
    protected void initializeHeadLayers(NDManager manager) {
        TextClassifier.initializeLinear(classifier.dense, roberta.hiddenSize(), INITIALIZER_RANGE, manager);
        TextClassifier.initializeLinear(classifier.outProj, roberta.hiddenSize(), INITIALIZER_RANGE, manager);
    }

    @Override
    protected NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        return classifier.apply(ps, roberta.hiddenStates(ps, inputIds, attentionMask, tokenTypeIds, training), training);
    }

    /** Returns {@code RobertaForSequenceClassification}, or XLM-RoBERTa's or CamemBERT's class. */
    @Override
    public String architecture() {
        switch (roberta.modelType()) {
            case "xlm-roberta":
                return "XLMRobertaForSequenceClassification";
            case "camembert":
                return "CamembertForSequenceClassification";
            default:
                return "RobertaForSequenceClassification";
        }
    }

    @Override
    public List<String> headPaths() {
        return List.of("classifier");
    }

    @Override
    public int maxTokens() {
        return roberta.config().maxTokens();
    }

    @Override
    public String layerPath(int layer) {
        return RobertaFamily.PREFIX + ".encoder.layer." + layer;
    }

    @Override
    public ObjectNode huggingFaceConfig() {
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.putArray("architectures").add(architecture());
        return roberta.config().toJson(config);
    }

    /**
     * {@code RobertaClassificationHead} (transformers 5.18 {@code models/roberta/modeling_roberta.py}
     * lines 1143-1162): dropout, {@code dense}, tanh, dropout, {@code out_proj}, on features[:, 0];
     * the dropout is {@code classifier_dropout}, or {@code hidden_dropout_prob} without it.
     */
    static final class Head extends AbstractBlock {
        private final Linear dense;
        private final Linear outProj;
        private final int hidden;
        private final float dropout;

        Head(int hidden, int numLabels, float dropout) {
            this.hidden = hidden;
            this.dropout = dropout;
            dense = addChildBlock("dense", Linear.builder().setUnits(hidden).build());
            outProj = addChildBlock("out_proj", Linear.builder().setUnits(numLabels).build());
        }

        NDArray apply(ParameterStore ps, NDArray features, boolean training) {
            NDArray x = dropout(features.get(new NDIndex(":, 0, :")), training);
            x = dense.forward(ps, new NDList(x), training).singletonOrThrow().tanh();
            return outProj.forward(ps, new NDList(dropout(x, training)), training).singletonOrThrow();
        }

        private NDArray dropout(NDArray x, boolean training) {
            return training && dropout > 0 ? Dropout.dropout(x, dropout, true).singletonOrThrow() : x;
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            return new NDList(apply(ps, inputs.singletonOrThrow(), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return outProj.getOutputShapes(new Shape[] {new Shape(inputShapes[0].get(0), hidden)});
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            dense.initialize(manager, dataType, new Shape(inputShapes[0].get(0), hidden));
            outProj.initialize(manager, dataType, new Shape(inputShapes[0].get(0), hidden));
        }
    }
}
