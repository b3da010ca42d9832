package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.KeyValueCache;

/**
 * One pre-norm decoder layer as transformers' {@code LlamaDecoderLayer}: h + self_attn(input_layernorm(h)),
 * then that + mlp(post_attention_layernorm(that)).
 */
public final class LlamaDecoderLayer extends AbstractBlock {
    private final RmsNorm inputNorm;
    private final LlamaAttention attention;
    private final RmsNorm postAttentionNorm;
    private final LlamaMlp mlp;

    LlamaDecoderLayer(LlamaConfig config) {
        attention = addChildBlock("self_attn", new LlamaAttention(config));
        mlp = addChildBlock("mlp", new LlamaMlp(config));
        inputNorm = addChildBlock("input_layernorm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
        postAttentionNorm = addChildBlock("post_attention_layernorm", new RmsNorm(config.hiddenSize(), config.rmsNormEps()));
    }

    /** Runs the layer on {@code hidden} [B, T, H] (see {@link LlamaAttention#attend} for the rest). */
    NDArray apply(ParameterStore ps, NDArray hidden, NDArray cos, NDArray sin, NDArray additiveMask, KeyValueCache cache,
            int layer, boolean training) {
        NDArray attended = attention.attend(ps, inputNorm.normalize(ps, hidden, training), cos, sin, additiveMask, cache,
                layer, training);
        NDArray h = hidden.add(attended);
        NDArray normed = postAttentionNorm.normalize(ps, h, training);
        return h.add(mlp.forward(ps, new NDList(normed), training).singletonOrThrow());
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the model runs its layers through apply()");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        attention.initialize(manager, dataType, inputShapes);
        mlp.initialize(manager, dataType, inputShapes);
        inputNorm.initialize(manager, dataType, inputShapes);
        postAttentionNorm.initialize(manager, dataType, inputShapes);
    }
}
