package org.peft4j.djl.tasks.tagging;

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
import java.util.List;
import java.util.Map;
import org.peft4j.api.TaskType;
import org.peft4j.djl.TaskModel;
import org.peft4j.djl.models.TextEncoder;

/**
 * A token classifier over an encoder of any family, computing what Hugging Face's
 * {@code *ForTokenClassification} classes compute ({@code BertForTokenClassification}, transformers
 * 5.18 {@code models/bert/modeling_bert.py} lines 1241-1245 and 1274-1275; RoBERTa's and
 * DistilBERT's are the same): the encoder's last hidden state, dropout while training
 * ({@link TextEncoder#headDropout()}: {@code classifier_dropout}, else the hidden dropout), then a
 * linear layer {@code classifier} (hidden to labels) on every token.
 *
 * <p>Module paths are Python's: the encoder sits under its {@code model_type} ({@code bert},
 * {@code roberta}, {@code distilbert}, the {@code base_model_prefix} of those classes), the head is
 * {@code classifier}. As a {@link TaskModel} it gives adapters {@code task_type: TOKEN_CLS} and trains
 * and saves {@code classifier} with every adapter, as PEFT's {@code PeftModelForTokenClassification}
 * adds {@code classifier} and {@code score} to {@code modules_to_save} (peft 0.21
 * {@code peft_model.py} lines 2692-2697; {@code score} is the head of decoder families, absent here).
 *
 * <p>Input: {@code input_ids}, optionally {@code attention_mask} and {@code token_type_ids}, each
 * [B, T] int64. Output: logits [B, T, labels] of the real tokens (under prompt-tuning the virtual
 * tokens get none).
 */
public final class TokenClassifier extends AbstractBlock implements TaskModel {
    private final TextEncoder encoder;
    private final Linear classifier;
    private final int numLabels;

    /** Puts a new head of {@code numLabels} outputs on {@code encoder}; initialize the head before use. */
    public TokenClassifier(TextEncoder encoder, int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be at least 1, got " + numLabels);
        }
        this.encoder = addChildBlock(encoder.modelType(), encoder);
        this.classifier = addChildBlock("classifier", Linear.builder().setUnits(numLabels).build());
        this.numLabels = numLabels;
    }

    /** Returns the encoder. */
    public TextEncoder encoder() {
        return encoder;
    }

    /** Returns the linear head {@code classifier}. */
    public Linear classifier() {
        return classifier;
    }

    /** Returns the number of labels (tags). */
    public int numLabels() {
        return numLabels;
    }

    /**
     * Initializes only the linear head (the encoder is already loaded), with DJL's default
     * initializer for linear layers.
     */
    public TokenClassifier initializeHead(NDManager manager) {
        classifier.initialize(manager, DataType.FLOAT32, new Shape(1, encoder.hiddenSize()));
        return this;
    }

    @Override
    public TaskType taskType() {
        return TaskType.TOKEN_CLS;
    }

    @Override
    public List<String> headModules() {
        return List.of("classifier");
    }

    /** Returns no metadata: this model has one head. */
    @Override
    public Map<String, String> headMetadata() {
        return Map.of();
    }

    /** Accepts every adapter's metadata: this model has one head. */
    @Override
    public void checkHeadMetadata(Map<String, String> metadata) {
        // one head only: nothing to tell apart
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : null;
        NDArray types = inputs.size() > 2 ? inputs.get(2) : null;
        NDArray hidden = encoder.encode(ps, ids, mask, types, training);
        float dropout = encoder.headDropout();
        if (training && dropout > 0) {
            hidden = Dropout.dropout(hidden, dropout, true).singletonOrThrow();
        }
        return classifier.forward(ps, new NDList(hidden), training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), inputShapes[0].get(1), numLabels)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        encoder.initialize(manager, dataType, inputShapes);
        classifier.initialize(manager, dataType, new Shape(inputShapes[0].get(0), encoder.hiddenSize()));
    }
}
