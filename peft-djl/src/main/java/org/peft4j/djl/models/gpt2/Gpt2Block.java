package org.peft4j.djl.models.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.KeyValueCache;
import org.peft4j.djl.models.bert.BertLayerNorm;

/**
 * One pre-LayerNorm block as transformers' {@code GPT2Block} ({@code modeling_gpt2.py} line 246): h + attn(ln_1(h)), then that +
 * mlp(ln_2(that)), with the module names {@code ln_1}, {@code attn}, {@code ln_2}, {@code mlp}.
 */
public final class Gpt2Block extends AbstractBlock {
    private final BertLayerNorm ln1;
    private final Gpt2Attention attention;
    private final BertLayerNorm ln2;
    private final Gpt2Mlp mlp;

    Gpt2Block(Gpt2Config config, int layer) {
        ln1 = addChildBlock("ln_1", new BertLayerNorm(config.nEmbd(), config.layerNormEpsilon()));
        attention = addChildBlock("attn", new Gpt2Attention(config, layer));
        ln2 = addChildBlock("ln_2", new BertLayerNorm(config.nEmbd(), config.layerNormEpsilon()));
        mlp = addChildBlock("mlp", new Gpt2Mlp(config));
    }

    /** Runs the block on {@code hidden} [B, T, n_embd] (see {@link Gpt2Attention#attend} for the rest). */
    NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, KeyValueCache cache, int layer,
            boolean training) {
        NDArray h = hidden.add(attention.attend(ps, ln1.normalize(ps, hidden, training), additiveMask, cache, layer,
                training));
        return h.add(mlp.forward(ps, new NDList(ln2.normalize(ps, h, training)), training).singletonOrThrow());
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("the model runs its blocks through apply()");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        ln1.initialize(manager, dataType, inputShapes);
        attention.initialize(manager, dataType, inputShapes);
        ln2.initialize(manager, dataType, inputShapes);
        mlp.initialize(manager, dataType, inputShapes);
    }
}
