package org.peft4j.djl.models.roberta;

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
import org.peft4j.djl.models.bert.BertEncoder;

/**
 * A RoBERTa-family encoder (RoBERTa, XLM-RoBERTa, CamemBERT) that reproduces Hugging Face's
 * {@code RobertaModel} without its pooler (which {@code RobertaForSequenceClassification} leaves
 * out): {@link RobertaEmbeddings}, then BERT's layers ({@link BertEncoder}), with Hugging Face's
 * module paths ({@code embeddings.word_embeddings}, {@code encoder.layer.0.attention.self.query},
 * ...). Input and output as {@link TextEncoder}; load it with {@link RobertaFamily} through
 * {@link org.peft4j.djl.models.EncoderFamilies}.
 *
 * <p>Prompt-tuning puts the prompt's n vectors before the word embeddings, numbered as
 * transformers numbers {@code inputs_embeds}; prefix-tuning extends every layer's keys and values
 * and shifts the real tokens' positions by n, as transformers does after n cached positions.
 */
public final class RobertaModel extends VirtualTokenHostBlock implements TextEncoder {
    private final RobertaConfig config;
    private final RobertaEmbeddings embeddings;
    private final BertEncoder encoder;

    /** Creates an encoder with the given architecture; initialize or load it before use. */
    public RobertaModel(RobertaConfig config) {
        this.config = config;
        embeddings = addChildBlock("embeddings", new RobertaEmbeddings(config));
        encoder = addChildBlock("encoder", new BertEncoder(config.layers()));
    }

    /** Returns the architecture. */
    public RobertaConfig config() {
        return config;
    }

    /** Returns the embeddings block. */
    public RobertaEmbeddings embeddings() {
        return embeddings;
    }

    /** Returns the layers. */
    public BertEncoder encoder() {
        return encoder;
    }

    /** Returns the {@code model_type} the config names: {@code roberta}, {@code xlm-roberta} or {@code camembert}. */
    @Override
    public String modelType() {
        return config.modelType();
    }

    @Override
    public float headDropout() {
        return config.layers().headDropout();
    }

    @Override
    public int maxTokens() {
        return config.maxTokens();
    }

    @Override
    public int hiddenSize() {
        return config.layers().hiddenSize();
    }

    @Override
    public int numLayers() {
        return config.layers().numHiddenLayers();
    }

    @Override
    public int numAttentionHeads() {
        return config.layers().numAttentionHeads();
    }

    @Override
    public Parameter wordEmbeddings() {
        return embeddings.wordEmbeddings().weight();
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

    /** The last layer's output at every position the layers saw, a prompt's virtual tokens included. */
    NDArray hiddenStates(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        if (inputIds.getShape().dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + inputIds.getShape());
        }
        VirtualTokenBlock v = virtualTokens();
        boolean prompt = v != null && v.kind() == VirtualTokenBlock.Kind.PROMPT;
        NDArray tokens = v == null ? null
                : VirtualTokenInputs.shaped(v, ps, inputIds, numLayers(), hiddenSize(), training);
        NDArray realMask = VirtualTokenInputs.mask(inputIds, attentionMask, 0);
        int offset = v != null && !prompt ? v.numVirtualTokens() : 0;
        NDArray hidden = embeddings.embed(ps, inputIds, realMask, tokenTypeIds, prompt ? tokens : null, offset, training);
        NDArray mask = VirtualTokenInputs.mask(inputIds, attentionMask, v == null ? 0 : v.numVirtualTokens());
        return encoder.apply(ps, hidden, VirtualTokenInputs.additive(mask), prompt ? null : tokens, training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(encode(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null,
                inputs.size() > 2 ? inputs.get(2) : null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(hiddenSize())};
    }

    /** Needs only the shape of {@code input_ids}, [B, T]. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        embeddings.initialize(manager, dataType, inputShapes[0]);
        encoder.initialize(manager, dataType, inputShapes[0].add(hiddenSize()));
    }
}
