package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.VirtualTokenHostBlock;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.CausalMask;
import org.peft4j.djl.models.CheckpointWeights;
import org.peft4j.djl.models.EmbeddingTable;
import org.peft4j.djl.models.KeyValueCache;
import org.peft4j.djl.models.LayerList;
import org.peft4j.djl.models.VirtualTokenInputs;

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
 *
 * <p>It hosts prompt- and prefix-tuning
 * as PEFT's {@code PeftModelForCausalLM} runs them ({@code peft_model.py}, {@code forward} and
 * {@code get_prompt}): a prompt's n vectors go before the token embeddings at positions 0 to n - 1
 * (the real tokens follow at n, n + 1, ...; their logits alone are returned); prefixes are the
 * first n cached keys and values of every layer, [n, key/value heads, head size] each (PEFT's
 * {@code token_dim} is key/value heads times head size under grouped-query attention), and the
 * real tokens sit at positions n, n + 1, ... after them. An attention mask or position ids given
 * for the real tokens are extended over the virtual ones (a mask of ones, positions shifted by n),
 * also on later calls with a cache the virtual tokens started.
 */
public final class LlamaForCausalLM extends VirtualTokenHostBlock implements CausalLanguageModel {
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
        NDManager manager = inputIds.getManager();
        VirtualTokenInputs.DecoderInputs in = VirtualTokenInputs.decoder(virtualTokens(), ps, inputIds,
                body.embedTokens.lookup(ps, inputIds, training), attentionMask, positionIds, cache,
                config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim(), training);
        NDArray hidden = in.embeddings();
        NDArray realMask = in.attentionMask();
        NDArray positions = in.positionIds();
        KeyValueCache layerCache = in.cache();
        int promptTokens = in.promptTokens();
        long past = in.past();
        long length = hidden.getShape().get(1);
        if (config.slidingWindow() != null && past + length > config.slidingWindow()) {
            throw new IllegalArgumentException("the sequence of " + (past + length) + " tokens is longer than the"
                    + " sliding_window of " + config.slidingWindow() + ", which this model does not implement");
        }
        if (positions == null) {
            positions = manager.arange(past, past + length).expandDims(0);
        }
        NDList cosSin = rotary.cosSin(positions);
        NDArray mask = CausalMask.additive(manager, realMask, length, past);
        for (int i = 0; i < body.layers.size(); i++) {
            hidden = body.layers.get(i).apply(ps, hidden, cosSin.get(0), cosSin.get(1), mask, layerCache, i, training);
        }
        if (promptTokens > 0) {
            hidden = hidden.get(new NDIndex(":, {}:, :", promptTokens));
        }
        hidden = body.norm.normalize(ps, hidden, training);
        if (lmHead != null) {
            return lmHead.forward(ps, new NDList(hidden), training).singletonOrThrow();
        }
        NDArray table = ps.getValue(body.embedTokens.weight(), hidden.getDevice(), training);
        return hidden.matMul(table.transpose());
    }

    @Override
    public int hiddenSize() {
        return config.hiddenSize();
    }

    @Override
    public int numAttentionHeads() {
        return config.numAttentionHeads();
    }

    @Override
    public int prefixWidth() {
        return config.numKeyValueHeads() * config.headDim();
    }

    @Override
    public int prefixHeads() {
        return config.numKeyValueHeads();
    }

    @Override
    public Parameter wordEmbeddings() {
        return body.embedTokens.weight();
    }

    /** The parameters by their state-dict names, which are transformers' for this family. */
    @Override
    public Map<String, Tensor> huggingFaceWeights() {
        return CheckpointWeights.plainWeights(this);
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
