package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/** The SiLU-gated MLP of transformers' {@code LlamaMLP}: down_proj(silu(gate_proj(x)) · up_proj(x)). */
public final class LlamaMlp extends AbstractBlock {
    private final Linear gate;
    private final Linear up;
    private final Linear down;
    private final LlamaConfig config;

    LlamaMlp(LlamaConfig config) {
        this.config = config;
        gate = addChildBlock("gate_proj", Linear.builder().setUnits(config.intermediateSize()).optBias(config.mlpBias()).build());
        up = addChildBlock("up_proj", Linear.builder().setUnits(config.intermediateSize()).optBias(config.mlpBias()).build());
        down = addChildBlock("down_proj", Linear.builder().setUnits(config.hiddenSize()).optBias(config.mlpBias()).build());
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        NDArray gated = gate.forward(ps, new NDList(x), training).singletonOrThrow();
        NDArray silu = gated.mul(Activation.sigmoid(gated));
        NDArray product = silu.mul(up.forward(ps, new NDList(x), training).singletonOrThrow());
        return down.forward(ps, new NDList(product), training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        gate.initialize(manager, dataType, new Shape(1, config.hiddenSize()));
        up.initialize(manager, dataType, new Shape(1, config.hiddenSize()));
        down.initialize(manager, dataType, new Shape(1, config.intermediateSize()));
    }
}
