package org.peft4j.djl.models.gpt2;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.Conv1dLayers;

/**
 * The MLP of transformers' {@code GPT2MLP} ({@code modeling_gpt2.py} line 229):
 * dropout(c_proj(gelu_new(c_fc(x)))), where gelu_new(x) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
 * ({@code activations.py} line 59, {@code NewGELUActivation}).
 * {@code c_fc} and {@code c_proj} are {@code Conv1D} layers in Python, {@code Linear} here.
 */
public final class Gpt2Mlp extends AbstractBlock implements Conv1dLayers {
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2 / Math.PI);
    private final Linear fc;
    private final Linear proj;
    private final Gpt2Config config;

    Gpt2Mlp(Gpt2Config config) {
        this.config = config;
        fc = addChildBlock("c_fc", Linear.builder().setUnits(config.nInner()).build());
        proj = addChildBlock("c_proj", Linear.builder().setUnits(config.nEmbd()).build());
    }

    /** gelu_new, the tanh approximation of GELU, elementwise. */
    static NDArray geluNew(NDArray x) {
        NDArray inner = x.pow(3).mul(0.044715f).add(x).mul(SQRT_2_OVER_PI);
        return x.mul(0.5f).mul(inner.tanh().add(1f));
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray h = geluNew(fc.forward(ps, inputs, training).singletonOrThrow());
        NDArray out = proj.forward(ps, new NDList(h), training).singletonOrThrow();
        return new NDList(Gpt2LMHeadModel.dropout(out, config.residPdrop(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        fc.initialize(manager, dataType, new Shape(1, config.nEmbd()));
        proj.initialize(manager, dataType, new Shape(1, config.nInner()));
    }
}
