package org.peft4j.djl.models.distilbert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.djl.models.SequenceClassifierBlock;
import org.peft4j.djl.models.TextClassifier;

/**
 * Hugging Face's {@code DistilBertForSequenceClassification} (transformers 5.18
 * {@code models/distilbert/modeling_distilbert.py} lines 529-589): the encoder under
 * {@code distilbert}, then on the first position's hidden state {@code pre_classifier} (dim to
 * dim), ReLU, dropout ({@code seq_classif_dropout}) and {@code classifier}.
 *
 * <p>Both head layers train and are saved with every adapter. That is what PEFT 0.21 does:
 * {@code PeftModelForSequenceClassification} puts {@code ["classifier", "score"]} in
 * {@code modules_to_save} ({@code peft/peft_model.py} line 1830), and {@code _set_trainable}
 * matches a module when its path ends with an entry as a plain string
 * ({@code peft/utils/other.py} line 1088, {@code key.endswith(target_key)}), so
 * {@code pre_classifier} matches {@code classifier} there.
 */
public final class DistilBertSequenceClassifier extends SequenceClassifierBlock {
    private final DistilBertModel distilbert;
    private final Linear preClassifier;
    private final Linear classifier;

    DistilBertSequenceClassifier(DistilBertModel distilbert, int numLabels) {
        super(DistilBertFamily.PREFIX, distilbert, numLabels);
        this.distilbert = distilbert;
        preClassifier = addChildBlock("pre_classifier", Linear.builder().setUnits(distilbert.hiddenSize()).build());
        classifier = addChildBlock("classifier", Linear.builder().setUnits(numLabels).build());
    }

    /** Initializes the head as transformers does; returns this. */
    DistilBertSequenceClassifier initializeHead(NDManager manager) {
        initializeHeadLayers(manager);
        return this;
    }

    @Override
    protected void initializeHeadLayers(NDManager manager) {
        TextClassifier.initializeLinear(preClassifier, distilbert.hiddenSize(), INITIALIZER_RANGE, manager);
        TextClassifier.initializeLinear(classifier, distilbert.hiddenSize(), INITIALIZER_RANGE, manager);
    }

    @Override
    protected NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        NDArray first = distilbert.hiddenStates(ps, inputIds, attentionMask, training).get(new NDIndex(":, 0, :"));
        NDArray pooled = Activation.relu(preClassifier.forward(ps, new NDList(first), training).singletonOrThrow());
        float dropout = distilbert.headDropout();
        if (training && dropout > 0) {
            pooled = Dropout.dropout(pooled, dropout, true).singletonOrThrow();
        }
        return classifier.forward(ps, new NDList(pooled), training).singletonOrThrow();
    }

    /** Returns {@code DistilBertForSequenceClassification}. */
    @Override
    public String architecture() {
        return "DistilBertForSequenceClassification";
    }

    /** Returns {@code pre_classifier} and {@code classifier}. */
    @Override
    public List<String> headPaths() {
        return List.of("pre_classifier", "classifier");
    }

    @Override
    public int maxTokens() {
        return distilbert.config().maxPositionEmbeddings();
    }

    @Override
    public String layerPath(int layer) {
        return DistilBertFamily.PREFIX + ".transformer.layer." + layer;
    }

    @Override
    public ObjectNode huggingFaceConfig() {
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.putArray("architectures").add(architecture());
        return distilbert.config().toJson(config);
    }
}
