package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;
import java.util.Map;
import org.peft4j.api.TaskType;

/**
 * What the families' sequence classifiers with one (Hugging Face's) head share: the encoder as
 * the child {@link #encoderPath()}, {@code task_type} {@code SEQ_CLS}, the head modules trained and
 * saved with every adapter, and the forward pass's inputs. A family adds its head's modules and
 * {@link #logits}.
 */
public abstract class SequenceClassifierBlock extends AbstractBlock implements TextClassifier {
    /** The spread of a new head's weights, transformers' {@code initializer_range} default. */
    protected static final float INITIALIZER_RANGE = 0.02f;

    private final String encoderPath;
    private final TextEncoder encoder;
    private final int numLabels;

    /**
     * Adds {@code encoder} as the child {@code encoderPath}; the subclass adds its head after it.
     *
     * @throws IllegalArgumentException if {@code numLabels} is below 1
     */
    protected SequenceClassifierBlock(String encoderPath, TextEncoder encoder, int numLabels) {
        if (numLabels < 1) {
            throw new IllegalArgumentException("numLabels must be at least 1, got " + numLabels);
        }
        this.encoderPath = encoderPath;
        this.encoder = addChildBlock(encoderPath, encoder);
        this.numLabels = numLabels;
    }

    /**
     * Computes the logits [B, labels] of {@code input_ids} [B, T] under their attention mask
     * (null: no padding) and token types (null: zeros).
     */
    protected abstract NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training);

    /** Initializes the head's layers as transformers initializes new ones (the encoder is already loaded). */
    protected abstract void initializeHeadLayers(NDManager manager);

    @Override
    public TextEncoder encoder() {
        return encoder;
    }

    @Override
    public int numLabels() {
        return numLabels;
    }

    @Override
    public String encoderPath() {
        return encoderPath;
    }

    /** Returns {@value TextClassifier#HUGGING_FACE_HEAD}: the family's Hugging Face head. */
    @Override
    public String headName() {
        return HUGGING_FACE_HEAD;
    }

    @Override
    public TaskType taskType() {
        return TaskType.SEQ_CLS;
    }

    /** Returns {@link #headPaths()}: the head trains and is saved whole with every adapter. */
    @Override
    public List<String> headModules() {
        return headPaths();
    }

    /** Returns nothing: the head is the family's Hugging Face head, which Python runs unmarked. */
    @Override
    public Map<String, String> headMetadata() {
        return Map.of();
    }

    /** Refuses an adapter that records a head other than the Hugging Face one. */
    @Override
    public void checkHeadMetadata(Map<String, String> metadata) {
        String recorded = metadata.get(HEAD_METADATA);
        if (recorded != null && !recorded.equals(HUGGING_FACE_HEAD)) {
            throw new IllegalArgumentException("the adapter was trained with the " + recorded + " head; this "
                    + encoder.modelType() + " classifier computes transformers' own head");
        }
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(logits(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null,
                inputs.size() > 2 ? inputs.get(2) : null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {new Shape(inputShapes[0].get(0), numLabels)};
    }

    /** Initializes the encoder for the inputs, then the head as transformers would. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        encoder.initialize(manager, dataType, inputShapes);
        initializeHeadLayers(manager);
    }
}
