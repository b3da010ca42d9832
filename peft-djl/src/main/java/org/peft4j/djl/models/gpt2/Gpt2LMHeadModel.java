package org.peft4j.djl.models.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
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
import org.peft4j.djl.models.bert.BertLayerNorm;

/**
 * A GPT-2 language model built from DJL blocks that computes what transformers'
 * {@code GPT2LMHeadModel} computes ({@code modeling_gpt2.py}: {@code GPT2Model.forward},
 * {@code GPT2Block}, {@code GPT2LMHeadModel.forward}), with the same module paths:
 * {@code transformer.wte}, {@code transformer.wpe}, {@code transformer.h.N.ln_1},
 * {@code transformer.h.N.attn.c_attn}, {@code transformer.h.N.attn.c_proj}, {@code transformer.h.N.ln_2},
 * {@code transformer.h.N.mlp.c_fc}, {@code transformer.h.N.mlp.c_proj}, {@code transformer.ln_f} and,
 * only when {@code tie_word_embeddings} is false, {@code lm_head} (tied, the logits are the hidden
 * states times {@code wte}, as {@code GPT2LMHeadModel} ties {@code lm_head.weight} to it).
 *
 * <p>The hidden states start as wte(ids) + wpe(positions); positions default to past, ...,
 * past + T - 1 ({@code modeling_gpt2.py} lines 571-576), and explicit ones (generate()'s
 * cumsum(mask) - 1 under left padding) are honoured. The output layer is tied at line 637
 * ({@code _tied_weights_keys}).
 * Forward input: {@code input_ids} [B, T], then optionally {@code attention_mask} and
 * {@code position_ids} [B, T]; output: logits [B, T, vocab]. Load weights through
 * {@link Gpt2Family} ({@code DecoderFamilies.fromHuggingFace}).
 *
 * <p>It hosts prompt- and prefix-tuning as PEFT's {@code PeftModelForCausalLM} runs them on
 * {@code GPT2LMHeadModel} (PEFT 0.21 {@code peft_model.py}: the mask extended by n ones at line
 * 2134, the prompt prepended to {@code inputs_embeds} at line 2170, the prefix passed as
 * {@code past_key_values} at line 2157 and laid out by {@code get_prompt} at line 798). A prompt's n
 * vectors go before the token embeddings and, like them, get the learned positions 0 to n - 1 added
 * (the real tokens follow at n, n + 1, ...: without {@code position_ids} transformers' GPT-2 numbers
 * {@code inputs_embeds} from {@code past_seen_tokens}, {@code modeling_gpt2.py} lines 571-576); only
 * the real tokens' logits are returned. Prefixes are the first n cached keys and values of every
 * block, [n, heads, head size] each (PEFT's {@code token_dim} is {@code n_embd}), so the real tokens
 * sit at positions n, n + 1, ... after them, as GPT-2 counts the cached prefix among the seen tokens
 * (line 572). An attention mask or position ids given for the real tokens are extended over the
 * virtual ones (a mask of ones; positions shifted by n, as PEFT shifts them for prefixes at line
 * 1671), also on later calls with a cache the virtual tokens started.
 */
public final class Gpt2LMHeadModel extends VirtualTokenHostBlock implements CausalLanguageModel {
    private final Gpt2Config config;
    private final Body body;
    private final Linear lmHead;

    /** Creates a model with the given architecture; initialize or load it before use. */
    public Gpt2LMHeadModel(Gpt2Config config) {
        this.config = config;
        body = addChildBlock("transformer", new Body(config));
        lmHead = config.tieWordEmbeddings() ? null
                : addChildBlock("lm_head", Linear.builder().setUnits(config.vocabSize()).optBias(false).build());
    }

    /** Returns the architecture. */
    public Gpt2Config config() {
        return config;
    }

    @Override
    public String modelType() {
        return Gpt2Config.MODEL_TYPE;
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public int numLayers() {
        return config.nLayer();
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if a position is outside the position table (n_positions
     *     rows), virtual tokens included
     */
    @Override
    public NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray positionIds,
            KeyValueCache cache, boolean training) {
        Shape shape = inputIds.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + shape);
        }
        NDManager manager = inputIds.getManager();
        VirtualTokenInputs.DecoderInputs in = VirtualTokenInputs.decoder(virtualTokens(), ps, inputIds,
                body.wte.lookup(ps, inputIds, training), attentionMask, positionIds, cache, config.nLayer(),
                config.nHead(), config.headDim(), training);
        NDArray embeddings = in.embeddings();
        NDArray mask = in.attentionMask();
        NDArray positions = in.positionIds();
        KeyValueCache layerCache = in.cache();
        int promptTokens = in.promptTokens();
        long past = in.past();
        long length = embeddings.getShape().get(1);
        if (positions == null) {
            positions = manager.arange((int) past, (int) (past + length), 1, DataType.INT64).expandDims(0);
        }
        long last = positionIds != null ? positions.max().getLong() : past + length - 1;
        if (last >= config.nPositions() || positionIds != null && positionIds.min().getLong() < 0) {
            throw new IllegalArgumentException("position " + last + " (or a negative one) is outside the "
                    + config.nPositions() + " learned positions (n_positions) of this GPT-2 model");
        }
        NDArray hidden = dropout(embeddings.add(body.wpe.lookup(ps, positions, training)), config.embdPdrop(), training);
        NDArray additiveMask = CausalMask.additive(manager, mask, length, past);
        for (int i = 0; i < body.h.size(); i++) {
            hidden = body.h.get(i).apply(ps, hidden, additiveMask, layerCache, i, training);
        }
        if (promptTokens > 0) {
            hidden = hidden.get(new NDIndex(":, {}:, :", promptTokens));
        }
        hidden = body.lnF.normalize(ps, hidden, training);
        if (lmHead != null) {
            return lmHead.forward(ps, new NDList(hidden), training).singletonOrThrow();
        }
        NDArray table = ps.getValue(body.wte.weight(), hidden.getDevice(), training);
        return hidden.matMul(table.transpose());
    }

    @Override
    public int hiddenSize() {
        return config.nEmbd();
    }

    @Override
    public int numAttentionHeads() {
        return config.nHead();
    }

    @Override
    public Parameter wordEmbeddings() {
        return body.wte.weight();
    }

    /** Dropout at {@code rate} while training; {@code x} itself otherwise. */
    static NDArray dropout(NDArray x, float rate, boolean training) {
        return training && rate > 0 ? Dropout.dropout(x, rate, true).singletonOrThrow() : x;
    }

    /** The parameters under transformers' names, the {@code Conv1D} weights back in their [in, out] layout. */
    @Override
    public Map<String, Tensor> huggingFaceWeights() {
        Map<String, Tensor> weights = CheckpointWeights.plainWeights(this);
        for (String path : Gpt2Family.conv1dLayers(this).keySet()) {
            weights.put(path + ".weight", CheckpointWeights.transpose(weights.get(path + ".weight")));
        }
        return weights;
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
            lmHead.initialize(manager, dataType, new Shape(1, config.nEmbd()));
        }
    }

    /** transformers' {@code GPT2Model}: the two embedding tables, the blocks and the final norm, under {@code transformer.}. */
    static final class Body extends AbstractBlock {
        private final EmbeddingTable wte;
        private final EmbeddingTable wpe;
        private final LayerList<Gpt2Block> h;
        private final BertLayerNorm lnF;
        private final int hiddenSize;

        Body(Gpt2Config config) {
            hiddenSize = config.nEmbd();
            wte = addChildBlock("wte", new EmbeddingTable(config.vocabSize(), config.nEmbd()));
            wpe = addChildBlock("wpe", new EmbeddingTable(config.nPositions(), config.nEmbd()));
            h = addChildBlock("h", new LayerList<>(config.nLayer(), i -> new Gpt2Block(config, i),
                    new Shape(1, 1, config.nEmbd())));
            lnF = addChildBlock("ln_f", new BertLayerNorm(config.nEmbd(), config.layerNormEpsilon()));
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            throw new UnsupportedOperationException("Gpt2LMHeadModel runs its transformer's parts itself");
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return inputShapes;
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            wte.initialize(manager, dataType, inputShapes[0]);
            wpe.initialize(manager, dataType, inputShapes[0]);
            h.initialize(manager, dataType, inputShapes[0]);
            lnF.initialize(manager, dataType, new Shape(1, hiddenSize));
        }
    }
}
