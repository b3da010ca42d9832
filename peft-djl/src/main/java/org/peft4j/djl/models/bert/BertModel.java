package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.VirtualTokenBlock;
import org.peft4j.djl.VirtualTokenHostBlock;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.VirtualTokenInputs;

/**
 * A BERT-family encoder built from DJL blocks that reproduces Hugging Face's {@code BertModel}:
 * post-LayerNorm layers, exact erf GELU, absolute position and token-type embeddings, any sequence
 * length up to the position table, an attention mask, and the pooler. Its module paths are Hugging
 * Face's ({@code embeddings.word_embeddings}, {@code encoder.layer.0.attention.self.query},
 * {@code pooler.dense}, ...), so {@code target_modules} and adapter keys carry over unchanged. A
 * checkpoint without pooler weights (such as an ONNX export, which drops the unused pooler) gets
 * a new pooler, initialized as Hugging Face initializes one; {@link #hasPretrainedPooler()} tells
 * which.
 *
 * <p>Input: {@code input_ids} [B, T], then optionally {@code attention_mask} [B, T] (1 for real
 * tokens, 0 for padding; default all ones) and {@code token_type_ids} [B, T] (default zeros).
 * Output: {@code last_hidden_state} [B, T, hidden]. Load pretrained weights with
 * {@link BertLoader}.
 *
 * <p>It accepts prompt- and prefix-tuning as a {@link org.peft4j.djl.VirtualTokenHost}, with Hugging Face PEFT's
 * semantics: a prompt's n vectors go before the word embeddings at positions 0 to n - 1 (token
 * type 0), the real tokens follow at positions n to n + T - 1, and {@link #pooledOutput} pools the
 * first virtual token; prefixes extend every layer's keys and values, and the real tokens sit at
 * positions n to n + T - 1 as transformers numbers them after n cached positions
 * ({@code BertEmbeddings.forward}: {@code position_ids[:, past_key_values_length : seq_length +
 * past_key_values_length]}). {@link #encode} leaves the virtual tokens' positions out, so its
 * output stays [B, T, hidden].
 */
public final class BertModel extends VirtualTokenHostBlock implements TextEncoder {
    private final BertConfig config;
    private final BertEmbeddings embeddings;
    private final BertEncoder encoder;
    private final BertPooler pooler;
    private boolean pretrainedPooler;

    /** Creates an encoder with the given architecture; initialize or load it before use. */
    public BertModel(BertConfig config) {
        this.config = config;
        embeddings = addChildBlock("embeddings", new BertEmbeddings(config));
        encoder = addChildBlock("encoder", new BertEncoder(config));
        pooler = addChildBlock("pooler", new BertPooler(config.hiddenSize()));
    }

    /** Returns the architecture. */
    public BertConfig config() {
        return config;
    }

    /** Returns the embeddings block. */
    public BertEmbeddings embeddings() {
        return embeddings;
    }

    /** Returns the encoder block. */
    public BertEncoder encoder() {
        return encoder;
    }

    /** Returns the pooler. */
    public BertPooler pooler() {
        return pooler;
    }

    /** Returns whether the pooler's weights came from the checkpoint, rather than being new. */
    public boolean hasPretrainedPooler() {
        return pretrainedPooler;
    }

    /** Records whether the pooler's weights came from the checkpoint ({@link BertLoader} sets it). */
    void setPretrainedPooler(boolean pretrained) {
        this.pretrainedPooler = pretrained;
    }

    @Override
    public int hiddenSize() {
        return config.hiddenSize();
    }

    @Override
    public int numLayers() {
        return config.numHiddenLayers();
    }

    @Override
    public int numAttentionHeads() {
        return config.numAttentionHeads();
    }

    @Override
    public Parameter wordEmbeddings() {
        return embeddings.wordEmbeddings().weight();
    }

    /** Returns {@code bert}. */
    @Override
    public String modelType() {
        return BertFamily.MODEL_TYPE;
    }

    @Override
    public float headDropout() {
        return config.headDropout();
    }

    @Override
    public int maxTokens() {
        return config.maxPositionEmbeddings();
    }

    @Override
    public NDArray encode(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        NDArray out = hiddenStates(ps, inputIds, attentionMask, tokenTypeIds, training);
        VirtualTokenBlock v = virtualTokens();
        return v != null && v.kind() == VirtualTokenBlock.Kind.PROMPT
                ? out.get(new NDIndex(":, {}:, :", v.numVirtualTokens()))
                : out;
    }

    /**
     * Computes Hugging Face's {@code pooler_output} [B, hidden]: the pooler on the first position of
     * the sequence the layers saw, which under prompt-tuning is the first virtual token.
     */
    public NDArray pooledOutput(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        return pooler.pool(ps, hiddenStates(ps, inputIds, attentionMask, tokenTypeIds, training), training);
    }

    /** The last layer's output for every position the layers saw, a prompt's virtual tokens included. */
    private NDArray hiddenStates(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        if (inputIds.getShape().dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + inputIds.getShape());
        }
        VirtualTokenBlock v = virtualTokens();
        boolean prompt = v != null && v.kind() == VirtualTokenBlock.Kind.PROMPT;
        NDArray tokens = v == null ? null
                : VirtualTokenInputs.shaped(v, ps, inputIds, config.numHiddenLayers(), config.hiddenSize(), training);
        int positionOffset = v != null && !prompt ? v.numVirtualTokens() : 0;
        NDArray hidden = embeddings.embed(ps, inputIds, tokenTypeIds, prompt ? tokens : null, positionOffset, training);
        NDArray mask = VirtualTokenInputs.mask(inputIds, attentionMask, v == null ? 0 : v.numVirtualTokens());
        NDArray prefixes = v != null && !prompt ? tokens : null;
        return encoder.apply(ps, hidden, VirtualTokenInputs.additive(mask), prefixes, training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(encode(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null,
                inputs.size() > 2 ? inputs.get(2) : null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.hiddenSize())};
    }

    /** Needs only the shape of {@code input_ids}, [B, T]. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        embeddings.initialize(manager, dataType, inputShapes[0]);
        encoder.initialize(manager, dataType, inputShapes[0].add(config.hiddenSize()));
        pooler.initialize(manager, dataType, inputShapes[0].add(config.hiddenSize()));
    }
}
