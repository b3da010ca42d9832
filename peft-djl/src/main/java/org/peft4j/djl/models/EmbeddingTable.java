package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

/**
 * A lookup table, like PyTorch's {@code nn.Embedding}: integer ids [..] to rows of {@code weight}
 * [rows, dim], giving [.., dim]. Its one parameter is named {@code weight}, as in Hugging Face
 * checkpoints.
 */
public final class EmbeddingTable extends AbstractBlock {
    private final Parameter weight;
    private final int rows;
    private final int dim;

    /** Creates a table of {@code rows} vectors of width {@code dim}. */
    public EmbeddingTable(int rows, int dim) {
        this.rows = rows;
        this.dim = dim;
        weight = addParameter(Parameter.builder().setName("weight").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(rows, dim)).optInitializer(new NormalInitializer(0.02f)).build());
    }

    /** Returns the table itself, [rows, dim]. */
    public Parameter weight() {
        return weight;
    }

    /** Returns the number of rows (the vocabulary or position count). */
    public int rows() {
        return rows;
    }

    /** Returns the rows for {@code ids}, read through {@code parameterStore}. */
    public NDArray lookup(ParameterStore parameterStore, NDArray ids, boolean training) {
        NDArray table = parameterStore.getValue(weight, ids.getDevice(), training);
        return ids.getNDArrayInternal().embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(lookup(parameterStore, inputs.singletonOrThrow(), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(dim)};
    }
}
