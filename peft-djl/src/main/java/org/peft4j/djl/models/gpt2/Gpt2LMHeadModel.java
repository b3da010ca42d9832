package org.peft4j.djl.models.gpt2;

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
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.CausalMask;
import org.peft4j.djl.models.CheckpointWeights;
import org.peft4j.djl.models.EmbeddingTable;
import org.peft4j.djl.models.KeyValueCache;
import org.peft4j.djl.models.LayerList;
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
 */
public final class Gpt2LMHeadModel extends AbstractBlock implements CausalLanguageModel {
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
     * @throws IllegalArgumentException if a position is outside the position table (n_positions rows)
     */
    @Override
    public NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray positionIds,
            KeyValueCache cache, boolean training) {
        Shape shape = inputIds.getShape();
        if (shape.dimension() != 2) {
            throw new IllegalArgumentException("input_ids must be [batch, sequence], got " + shape);
        }
        long length = shape.get(1);
        long past = cache == null ? 0 : cache.length();
        NDManager manager = inputIds.getManager();
        NDArray positions = positionIds != null ? positionIds
                : manager.arange((int) past, (int) (past + length), 1, DataType.INT64).expandDims(0);
        long last = positionIds != null ? positionIds.max().getLong() : past + length - 1;
        if (last >= config.nPositions() || positionIds != null && positionIds.min().getLong() < 0) {
            throw new IllegalArgumentException("position " + last + " (or a negative one) is outside the "
                    + config.nPositions() + " learned positions (n_positions) of this GPT-2 model");
        }
        NDArray hidden = body.wte.lookup(ps, inputIds, training).add(body.wpe.lookup(ps, positions, training));
        hidden = dropout(hidden, config.embdPdrop(), training);
        NDArray mask = CausalMask.additive(manager, attentionMask, length, past);
        for (int i = 0; i < body.h.size(); i++) {
            hidden = body.h.get(i).apply(ps, hidden, mask, cache, i, training);
        }
        hidden = body.lnF.normalize(ps, hidden, training);
        if (lmHead != null) {
            return lmHead.forward(ps, new NDList(hidden), training).singletonOrThrow();
        }
        NDArray table = ps.getValue(body.wte.weight(), hidden.getDevice(), training);
        return hidden.matMul(table.transpose());
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
