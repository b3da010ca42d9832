package org.peft4j.djl.models.distilbert;

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
 * A DistilBERT encoder that reproduces Hugging Face's {@code DistilBertModel}, with its module
 * paths ({@code embeddings.word_embeddings}, {@code transformer.layer.0.attention.q_lin}, ...):
 * positions from 0, no token types ({@code token_type_ids} are ignored). Input and output as
 * {@link TextEncoder}; load it with {@link DistilBertFamily} through
 * {@link org.peft4j.djl.models.EncoderFamilies}.
 *
 * <p>It hosts prompt-tuning (the prompt goes before the word embeddings at positions 0 to n - 1,
 * as transformers numbers {@code inputs_embeds}) but not prefix-tuning: transformers 5.18's
 * {@code DistilBertModel.forward} takes no {@code past_key_values}, so PEFT cannot run a prefix on it
 * either.
 */
public final class DistilBertModel extends VirtualTokenHostBlock implements TextEncoder {
    private final DistilBertConfig config;
    private final DistilBertEmbeddings embeddings;
    private final DistilBertTransformer transformer;

    /** Creates an encoder with the given architecture; initialize or load it before use. */
    public DistilBertModel(DistilBertConfig config) {
        this.config = config;
        embeddings = addChildBlock("embeddings", new DistilBertEmbeddings(config));
        transformer = addChildBlock("transformer", new DistilBertTransformer(config));
    }

    /** Returns the architecture. */
    public DistilBertConfig config() {
        return config;
    }

    /** Returns {@code distilbert}. */
    @Override
    public String modelType() {
        return DistilBertFamily.MODEL_TYPE;
    }

    /** Returns {@code seq_classif_dropout}, the dropout of {@code DistilBertForSequenceClassification}'s head. */
    @Override
    public float headDropout() {
        return config.seqClassifDropout();
    }

    @Override
    public int maxTokens() {
        return config.maxPositionEmbeddings();
    }

    @Override
    public int hiddenSize() {
        return config.dim();
    }

    @Override
    public int numLayers() {
        return config.nLayers();
    }

    @Override
    public int numAttentionHeads() {
        return config.nHeads();
    }

    @Override
    public Parameter wordEmbeddings() {
        return embeddings.wordEmbeddings().weight();
    }

    /**
     * Attaches a prompt's virtual tokens.
     *
     * @throws IllegalArgumentException for prefix-tuning, which DistilBERT does not take
     */
    @Override
    public void setVirtualTokens(VirtualTokenBlock block) {
        if (block != null && block.kind() != VirtualTokenBlock.Kind.PROMPT) {
            throw new IllegalArgumentException("prefix-tuning is not supported on model_type distilbert: transformers'"
                    + " DistilBertModel takes no past_key_values, so PEFT cannot run a prefix on it either;"
                    + " use prompt-tuning or LoRA");
        }
        super.setVirtualTokens(block);
    }

    @Override
    public NDArray encode(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds,
            boolean training) {
        NDArray out = hiddenStates(ps, inputIds, attentionMask, training);
        VirtualTokenBlock v = virtualTokens();
        return v != null ? out.get(new NDIndex(":, {}:, :", v.numVirtualTokens())) : out;
    }

    /** The last layer's output at every position the layers saw, a prompt's virtual tokens included. */
    NDArray hiddenStates(ParameterStore ps, NDArray inputIds, NDArray attentionMask, boolean training) {
        if (inputIds.getShape().dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + inputIds.getShape());
        }
        VirtualTokenBlock v = virtualTokens();
        NDArray prompt = v == null ? null
                : VirtualTokenInputs.shaped(v, ps, inputIds, numLayers(), hiddenSize(), training);
        NDArray hidden = embeddings.embed(ps, inputIds, prompt, training);
        NDArray mask = VirtualTokenInputs.mask(inputIds, attentionMask, v == null ? 0 : v.numVirtualTokens());
        return transformer.apply(ps, hidden, VirtualTokenInputs.additive(mask), training);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(encode(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null, null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(hiddenSize())};
    }

    /** Needs only the shape of {@code input_ids}, [B, T]. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        embeddings.initialize(manager, dataType, inputShapes[0]);
        transformer.initialize(manager, dataType, inputShapes[0].add(hiddenSize()));
    }
}
