package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.Initializer;
import ai.djl.util.PairList;

/**
 * Layer normalization over the last axis with a learned scale and shift, named {@code weight} and
 * {@code bias} as in Hugging Face checkpoints (DJL's own LayerNorm calls them gamma and beta).
 */
public final class BertLayerNorm extends AbstractBlock {
    private final Parameter weight;
    private final Parameter bias;
    private final int dim;
    private final float eps;

    /** Creates a normalization of vectors of width {@code dim} with epsilon {@code eps}. */
    public BertLayerNorm(int dim, float eps) {
        this.dim = dim;
        this.eps = eps;
        weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.GAMMA)
                .optShape(new Shape(dim)).optInitializer(Initializer.ONES).build());
        bias = addParameter(Parameter.builder().setName("bias").setType(Parameter.Type.BETA)
                .optShape(new Shape(dim)).optInitializer(Initializer.ZEROS).build());
    }

    /** Normalizes {@code x} [.., dim]. */
    public NDArray normalize(ParameterStore parameterStore, NDArray x, boolean training) {
        NDArray w = parameterStore.getValue(weight, x.getDevice(), training);
        NDArray b = parameterStore.getValue(bias, x.getDevice(), training);
        return LayerNorm.layerNorm(x, new Shape(dim), w, b, eps).singletonOrThrow();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(normalize(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }
}
