package org.peft4j.djl.tasks.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.BlockList;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.peft4j.api.TaskType;
import org.peft4j.djl.TaskModel;
import org.peft4j.djl.VirtualTokenBlock;
import org.peft4j.djl.VirtualTokenHost;
import org.peft4j.djl.models.TextEncoder;

/**
 * A sentence-embedding model over an encoder of any family: the encoder's
 * {@code last_hidden_state}, pooled and optionally normalised ({@link EmbeddingPooling}), as a
 * sentence-transformers model computes its embeddings.
 *
 * <p>As a {@link TaskModel} it gives adapters {@code task_type: FEATURE_EXTRACTION}, for which
 * Python's PEFT wraps the bare encoder ({@code AutoModel}) in {@code PeftModelForFeatureExtraction}
 * and saves no head ({@code peft/peft_model.py} in PEFT 0.21, lines 3137-3178: its
 * {@code __init__} only calls {@code PeftModel.__init__}, adding nothing to
 * {@code modules_to_save}). The module paths are therefore the encoder's own
 * ({@code encoder.layer.0.attention.self.query}, no prefix): this block shows the encoder's
 * children as its own, so adapter keys are the ones Python writes for the bare encoder. The
 * pooling is recorded in the adapter's metadata ({@value #POOLING_METADATA}); an adapter trained
 * under another pooling is refused.
 *
 * <p>Input: one or more groups of three arrays, each {@code input_ids}, {@code attention_mask}
 * and {@code token_type_ids} [B, T]. Output:
 * one embedding array [B, hidden] per group, so that a pair of texts (an anchor and its positive)
 * passes through in one forward call with each side padded to its own length.
 */
public final class SentenceEmbedder extends AbstractBlock implements TaskModel, VirtualTokenHost {
    /** The safetensors metadata key that records the pooling an adapter was trained with. */
    public static final String POOLING_METADATA = "peft4j_pooling";

    private final TextEncoder encoder;
    private final EmbeddingPooling pooling;

    /** Puts {@code pooling} on a loaded {@code encoder}. */
    public SentenceEmbedder(TextEncoder encoder, EmbeddingPooling pooling) {
        this.encoder = Objects.requireNonNull(encoder, "encoder");
        this.pooling = Objects.requireNonNull(pooling, "pooling");
    }

    /** Returns the encoder. */
    public TextEncoder encoder() {
        return encoder;
    }

    /** Returns how hidden states become embeddings. */
    public EmbeddingPooling pooling() {
        return pooling;
    }

    /** Returns {@link TaskType#FEATURE_EXTRACTION}. */
    @Override
    public TaskType taskType() {
        return TaskType.FEATURE_EXTRACTION;
    }

    /** Returns no modules: PEFT saves no head for feature extraction. */
    @Override
    public List<String> headModules() {
        return List.of();
    }

    @Override
    public Map<String, String> headMetadata() {
        return Map.of(POOLING_METADATA, pooling.recordedName());
    }

    @Override
    public void checkHeadMetadata(Map<String, String> metadata) {
        String recorded = metadata.get(POOLING_METADATA);
        if (recorded != null && !recorded.equals(pooling.recordedName())) {
            throw new IllegalArgumentException("the adapter was trained with " + recorded + " pooling; this model pools "
                    + pooling.recordedName() + ": build the SentenceEmbedder with that pooling");
        }
    }

    /**
     * The encoder's children, shown as this block's own: module paths, parameters and saved
     * weights are the bare encoder's, as in Python.
     */
    @Override
    public BlockList getChildren() {
        return encoder.getChildren();
    }

    /** Embeds one batch of texts: [B, hidden]. */
    public NDArray embed(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        return pooling.apply(encoder.encode(ps, inputIds, attentionMask, tokenTypeIds, training), attentionMask);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        if (inputs.isEmpty() || inputs.size() % 3 != 0) {
            throw new IllegalArgumentException("a SentenceEmbedder takes groups of (input_ids, attention_mask,"
                    + " token_type_ids), got " + inputs.size() + " arrays");
        }
        NDList out = new NDList(inputs.size() / 3);
        for (int i = 0; i < inputs.size(); i += 3) {
            out.add(embed(ps, inputs.get(i), inputs.get(i + 1), inputs.get(i + 2), training));
        }
        return out;
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape[] out = new Shape[inputShapes.length / 3];
        for (int i = 0; i < out.length; i++) {
            out[i] = new Shape(inputShapes[3 * i].get(0), encoder.hiddenSize());
        }
        return out;
    }

    /** Initializes the encoder (a loaded one already is). */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        encoder.initialize(manager, dataType, inputShapes[0]);
    }

    @Override
    public int hiddenSize() {
        return encoder.hiddenSize();
    }

    @Override
    public int numLayers() {
        return encoder.numLayers();
    }

    @Override
    public int numAttentionHeads() {
        return encoder.numAttentionHeads();
    }

    @Override
    public Parameter wordEmbeddings() {
        return encoder.wordEmbeddings();
    }

    @Override
    public void setVirtualTokens(VirtualTokenBlock block) {
        encoder.setVirtualTokens(block);
    }

    @Override
    public VirtualTokenBlock virtualTokens() {
        return encoder.virtualTokens();
    }
}
