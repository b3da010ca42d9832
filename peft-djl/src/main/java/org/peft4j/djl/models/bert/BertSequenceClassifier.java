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
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.peft4j.api.TaskType;
import org.peft4j.djl.TaskModel;
import org.peft4j.djl.models.TextClassifier;

/**
 * A sequence classifier with Hugging Face's module paths and, by default, the computation of
 * {@code BertForSequenceClassification}: the encoder under {@code bert} (with its pooler,
 * {@code bert.pooler.dense}), dropout while training, and a linear head {@code classifier}. The
 * head is {@link ClassifierHead#POOLER} (what Python runs) or {@link ClassifierHead#MEAN_POOLING}
 * (sentence-transformers' mean pooling, then the linear head).
 *
 * <p>As a {@link TaskModel} it gives adapters {@code task_type: SEQ_CLS} and trains and saves
 * {@code classifier} with every adapter, as PEFT does; with the pooler head on an encoder whose
 * checkpoint had no pooler weights (such as the bundled all-MiniLM-L6-v2 export), the new pooler
 * trains and is saved with the adapter too ({@code modules_to_save: ["classifier", "pooler"]}),
 * so that Python loads it instead of a random one. The head's name is recorded in the adapter's
 * metadata ({@value #HEAD_METADATA}), and an adapter trained on the other head is refused.
 *
 * <p>Input: as {@link BertModel}. Output: logits [B, labels]; one label makes a regressor, as
 * Hugging Face's {@code num_labels=1} does.
 */
public final class BertSequenceClassifier extends AbstractBlock implements TextClassifier {
    /** The safetensors metadata key that records the head an adapter was trained with. */
    public static final String HEAD_METADATA = TextClassifier.HEAD_METADATA;

    private final BertModel bert;
    private final Linear classifier;
    private final ClassifierHead head;
    private final int numLabels;

    /** Puts a new Hugging Face head of {@code numLabels} outputs on {@code bert} ({@link ClassifierHead#POOLER}). */
    public BertSequenceClassifier(BertModel bert, int numLabels) {
        this(bert, numLabels, ClassifierHead.POOLER);
    }

    /** Puts a new head of {@code numLabels} outputs on {@code bert}; initialize the head before use. */
    public BertSequenceClassifier(BertModel bert, int numLabels, ClassifierHead head) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be at least 1, got " + numLabels);
        }
        this.bert = addChildBlock("bert", bert);
        this.classifier = addChildBlock("classifier", Linear.builder().setUnits(numLabels).build());
        this.head = Objects.requireNonNull(head, "head");
        this.numLabels = numLabels;
    }

    /** Returns the encoder. */
    public BertModel bert() {
        return bert;
    }

    /** Returns the encoder, {@link #bert()}. */
    @Override
    public BertModel encoder() {
        return bert;
    }

    /** Returns the head's recorded name ({@link ClassifierHead#recordedName()}). */
    @Override
    public String headName() {
        return head.recordedName();
    }

    /** Returns {@code bert}. */
    @Override
    public String encoderPath() {
        return "bert";
    }

    /** Returns {@code classifier} and the pooler it reads, {@code bert.pooler}. */
    @Override
    public List<String> headPaths() {
        return List.of("classifier", "bert.pooler");
    }

    @Override
    public int maxTokens() {
        return bert.config().maxPositionEmbeddings();
    }

    @Override
    public String layerPath(int layer) {
        return "bert.encoder.layer." + layer;
    }

    /** Returns {@code BertForSequenceClassification}. */
    @Override
    public String architecture() {
        return "BertForSequenceClassification";
    }

    /** Returns the {@code config.json} of {@code BertForSequenceClassification}, with every key {@link BertConfig} reads. */
    @Override
    public ObjectNode huggingFaceConfig() {
        BertConfig c = bert.config();
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.putArray("architectures").add(architecture());
        config.put("model_type", BertFamily.MODEL_TYPE);
        config.put("vocab_size", c.vocabSize());
        config.put("hidden_size", c.hiddenSize());
        config.put("num_hidden_layers", c.numHiddenLayers());
        config.put("num_attention_heads", c.numAttentionHeads());
        config.put("intermediate_size", c.intermediateSize());
        config.put("max_position_embeddings", c.maxPositionEmbeddings());
        config.put("type_vocab_size", c.typeVocabSize());
        config.put("layer_norm_eps", c.layerNormEps());
        config.put("hidden_dropout_prob", c.hiddenDropoutProb());
        config.put("attention_probs_dropout_prob", c.attentionProbsDropoutProb());
        if (c.classifierDropout() != null) {
            config.put("classifier_dropout", c.classifierDropout());
        }
        config.put("hidden_act", "gelu");
        config.put("position_embedding_type", "absolute");
        config.put("pad_token_id", 0);
        config.put("initializer_range", 0.02);
        return config;
    }

    /** Returns the linear head {@code classifier}. */
    public Linear classifier() {
        return classifier;
    }

    /** Returns the number of labels. */
    @Override
    public int numLabels() {
        return numLabels;
    }

    /** Returns how the encoder's output becomes logits. */
    public ClassifierHead head() {
        return head;
    }

    /**
     * Initializes only the linear head (the encoder is already loaded), with DJL's default
     * initializer for linear layers.
     */
    public BertSequenceClassifier initializeHead(NDManager manager) {
        classifier.initialize(manager, DataType.FLOAT32, new Shape(1, bert.config().hiddenSize()));
        return this;
    }

    @Override
    public TaskType taskType() {
        return TaskType.SEQ_CLS;
    }

    @Override
    public List<String> headModules() {
        List<String> modules = new ArrayList<>(List.of("classifier"));
        if (head == ClassifierHead.POOLER && !bert.hasPretrainedPooler()) {
            modules.add("pooler");
        }
        return modules;
    }

    @Override
    public Map<String, String> headMetadata() {
        return Map.of(HEAD_METADATA, head.recordedName());
    }

    @Override
    public void checkHeadMetadata(Map<String, String> metadata) {
        String recorded = metadata.get(HEAD_METADATA);
        if (recorded != null && ClassifierHead.fromRecordedName(recorded) != head) {
            throw new IllegalArgumentException("the adapter was trained with the " + recorded
                    + " head; this classifier computes " + head.recordedName()
                    + ": build it with ClassifierHead." + ClassifierHead.fromRecordedName(recorded).name());
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray types = inputs.size() > 2 ? inputs.get(2) : null;
        NDArray pooled = head == ClassifierHead.POOLER
                ? bert.pooledOutput(ps, ids, mask, types, training)
                : Pooling.MEAN.pool(bert.encode(ps, ids, mask, types, training), mask);
        float dropout = bert.config().headDropout();
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
