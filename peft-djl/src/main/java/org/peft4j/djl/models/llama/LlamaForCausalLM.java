package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.EmbeddingTable;
import org.peft4j.djl.models.KeyValueCache;
import org.peft4j.djl.models.LayerList;

/**
 * A LLaMA-style causal language model built from DJL blocks that computes what transformers'
 * {@code LlamaForCausalLM} (and {@code Qwen2ForCausalLM}, {@code MistralForCausalLM} without an
 * active sliding window) computes, with the same module paths: {@code model.embed_tokens},
 * {@code model.layers.N.self_attn.{q,k,v,o}_proj}, {@code model.layers.N.mlp.{gate,up,down}_proj},
 * {@code model.layers.N.input_layernorm}, {@code model.layers.N.post_attention_layernorm},
 * {@code model.norm} and {@code lm_head} (absent when {@code tie_word_embeddings}: the logits are
 * then the hidden states times the embedding table).
 *
 * <p>Forward input: {@code input_ids} [B, T], then optionally {@code attention_mask} [B, T] and
 * {@code position_ids} [B, T]; output: logits [B, T, vocab]. Load weights through
 * {@link LlamaFamily} ({@code DecoderFamilies.fromHuggingFace}).
 */
public final class LlamaForCausalLM extends AbstractBlock implements CausalLanguageModel {
    private final LlamaConfig config;
    private final Body body;
    private final Linear lmHead;
    private final RotaryEmbedding rotary;

    /** Creates a model with the given architecture; initialize or load it before use. */
    public LlamaForCausalLM(LlamaConfig config) {
        this.config = config;
        body = addChildBlock("model", new Body(config));
        lmHead = config.tieWordEmbeddings() ? null
                : addChildBlock("lm_head", Linear.builder().setUnits(config.vocabSize()).optBias(false).build());
        rotary = new RotaryEmbedding(config.headDim(), config.ropeTheta());
    }

    /** Returns the architecture. */
    public LlamaConfig config() {
        return config;
    }

    @Override
    public String modelType() {
        return config.modelType();
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int numLayers() {
        return config.numHiddenLayers();
    }

    @Override
    public NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray positionIds,
            KeyValueCache cache, boolean training) {
        Shape shape = inputIds.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + shape);
        }
        long length = shape.get(1);
        long past = cache == null ? 0 : cache.length();
        if (config.slidingWindow() != null && past + length > config.slidingWindow()) {
            throw new IllegalArgumentException("the sequence of " + (past + length) + " tokens is longer than the"
                    + " sliding_window of " + config.slidingWindow() + ", which this model does not implement");
        }
        NDManager manager = inputIds.getManager();
        NDArray positions = positionIds != null ? positionIds : manager.arange(past, past + length).expandDims(0);
        NDList cosSin = rotary.cosSin(positions);
        NDArray mask = additiveMask(manager, attentionMask, length, past);
        NDArray hidden = body.embedTokens.lookup(ps, inputIds, training);
        for (int i = 0; i < body.layers.size(); i++) {
            hidden = body.layers.get(i).apply(ps, hidden, cosSin.get(0), cosSin.get(1), mask, cache, i, training);
        }
        hidden = body.norm.normalize(ps, hidden, training);
        if (lmHead != null) {
            return lmHead.forward(ps, new NDList(hidden), training).singletonOrThrow();
        }
        NDArray table = ps.getValue(body.embedTokens.weight(), hidden.getDevice(), training);
        return hidden.matMul(table.transpose());
    }

    /**
     * The additive mask [B or 1, 1, T, past + T]: 0 where query i may attend to key j (j <= past + i,
     * and key j is not padding), the float minimum elsewhere, as transformers builds it.
     */
    private static NDArray additiveMask(NDManager manager, NDArray attentionMask, long length, long past) {
        NDArray queries = manager.arange(past, past + length).reshape(length, 1);
        NDArray keys = manager.arange(past + length).reshape(1, past + length);
        NDArray allowed = keys.lte(queries).expandDims(0).expandDims(0);
        if (attentionMask != null) {
            NDArray real = attentionMask.neq(0).expandDims(1).expandDims(1);
            allowed = allowed.logicalAnd(real);
        }
        return allowed.toType(DataType.FLOAT32, false).sub(1f).mul(Float.MAX_VALUE);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(logits(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null,
                inputs.size() > 2 ? inputs.get(2) : null, null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(config.vocabSize())};
    }

    /** Needs only the shape of {@code input_ids}, [B, T]. */
    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        body.initialize(manager, dataType, inputShapes[0]);
        if (lmHead != null) {
            lmHead.initialize(manager, dataType, new Shape(1, config.hiddenSize()));
        }
    }

    /** transformers' {@code LlamaModel}: the embeddings, the layers and the final norm, under {@code model.}. */
    static final class Body extends AbstractBlock {
        private final EmbeddingTable embedTokens;
        private final LayerList<LlamaDecoderLayer> layers;
        private final RmsNorm norm;
        private final int hiddenSize;

        Body(LlamaConfig config) {
            hiddenSize = config.hiddenSize();
            embedTokens = addChildBlock("embed_tokens", new EmbeddingTable(config.vocabSize(), config.hiddenSize()));
            layers = addChildBlock("layers", new LayerList<>(config.numHiddenLayers(), i -> new LlamaDecoderLayer(config),
                    new Shape(1, 1, config.hiddenSize())));
            norm = addChildBlock("norm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            throw new UnsupportedOperationException("LlamaForCausalLM runs its model's parts itself");
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            embedTokens.initialize(manager, dataType, inputShapes[0]);
            layers.initialize(manager, dataType, inputShapes[0]);
            norm.initialize(manager, dataType, new Shape(1, hiddenSize));
        }
    }
}
