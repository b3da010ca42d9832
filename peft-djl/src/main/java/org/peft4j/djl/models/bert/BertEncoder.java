package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The stack of {@link BertLayer}s, with Hugging Face's paths: this block is {@code encoder} and its
 * one child {@code layer} holds the layers as {@code layer.0}, {@code layer.1}, ...
 */
public final class BertEncoder extends AbstractBlock {
    private final Layers layers;

    /** Creates the stack of {@code num_hidden_layers} layers; other families (RoBERTa) reuse it. */
    public BertEncoder(BertConfig config) {
        layers = addChildBlock("layer", new Layers(config));
    }

    /** Returns the layers in order. */
    public List<BertLayer> layers() {
        return Collections.unmodifiableList(layers.list);
    }

    /**
     * Runs every layer. {@code prefixes}, if not null, holds prefix-tuning's keys and values as
     * [n, layers·2, H]: layer l's key prefix at index 2l of the middle axis, its value at 2l + 1.
     *
     * @param hidden [B, S, H]
     * @param additiveMask [B, 1, 1, n + S]: 0 where attention may look, a large negative number where not
     */
    public NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, NDArray prefixes, boolean training) {
        NDArray h = hidden;
        for (int l = 0; l < layers.list.size(); l++) {
            NDArray key = prefixes == null ? null : prefixes.get(new NDIndex(":, {}, :", 2 * l));
            NDArray value = prefixes == null ? null : prefixes.get(new NDIndex(":, {}, :", 2 * l + 1));
            h = layers.list.get(l).apply(ps, h, additiveMask, key, value, training);
        }
        return h;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(apply(ps, inputs.get(0), inputs.get(1), null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        layers.initialize(manager, dataType, inputShapes);
    }

    /** The {@code layer} container; its children are named by their index. */
    static final class Layers extends AbstractBlock {
        private final List<BertLayer> list = new ArrayList<>();

        Layers(BertConfig config) {
            for (int i = 0; i < config.numHiddenLayers(); i++) {
                list.add(addChildBlock(Integer.toString(i), new BertLayer(config)));
            }
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray h = inputs.get(0);
            for (BertLayer layer : list) {
                h = layer.apply(ps, h, inputs.get(1), null, null, training);
            }
            return new NDList(h);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0]};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            for (BertLayer layer : list) {
                layer.initialize(manager, dataType, inputShapes[0]);
            }
        }
    }
}
