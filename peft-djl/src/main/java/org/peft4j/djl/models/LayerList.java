package org.peft4j.djl.models;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Numbered child blocks named {@code 0}, {@code 1}, ..., like PyTorch's {@code nn.ModuleList}, so
 * that module paths read {@code layers.0.self_attn} as in Hugging Face checkpoints. Its owner runs
 * the layers; its own forward pass is not defined.
 *
 * @param <T> the layer type
 */
public final class LayerList<T extends Block> extends AbstractBlock {
    private final List<T> layers = new ArrayList<>();
    private final Shape layerInput;

    /**
     * Creates {@code count} layers.
     *
     * @param layer makes layer i
     * @param layerInput the input shape each layer is initialized with
     */
    public LayerList(int count, IntFunction<T> layer, Shape layerInput) {
        this.layerInput = layerInput;
        for (int i = 0; i < count; i++) {
            layers.add(addChildBlock(Integer.toString(i), layer.apply(i)));
        }
    }

    /** Returns layer {@code i}. */
    public T get(int i) {
        return layers.get(i);
    }

    /** Returns the number of layers. */
    public int size() {
        return layers.size();
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        throw new UnsupportedOperationException("a LayerList is run layer by layer by the block that owns it");
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return inputShapes;
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (T layer : layers) {
            layer.initialize(manager, dataType, layerInput);
        }
    }
}
