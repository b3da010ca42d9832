package org.peft4j.djl.prefix;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import org.peft4j.djl.VirtualTokenBlock;

/**
 * Prefix-tuning's trainable keys and values for every layer, [n, layers·2·hidden] in Hugging Face's
 * layout. Either held directly in the parameter {@code embedding}, or (P-tuning v2's
 * {@code prefix_projection}, for training) produced from an {@code embedding} [n, hidden] by the
 * MLP {@code transform}: Linear(hidden → encoder_hidden_size), tanh, Linear(→ layers·2·hidden).
 */
public final class PrefixEncoder extends VirtualTokenBlock {
    private final Parameter embedding;
    private final SequentialBlock transform;
    private final int numVirtualTokens;

    /** Holds the prefixes directly: {@code initial} is [n, layers·2·hidden]. */
    PrefixEncoder(NDArray initial) {
        this(initial, null);
    }

    /**
     * Produces the prefixes with an MLP from {@code initial} [n, hidden].
     *
     * @param outputWidth layers·2·hidden
     */
    PrefixEncoder(NDArray initial, int encoderHiddenSize, long outputWidth) {
        this(initial, new SequentialBlock()
                .add(Linear.builder().setUnits(encoderHiddenSize).build())
                .add(Activation.tanhBlock())
                .add(Linear.builder().setUnits(outputWidth).build()));
        transform.initialize(initial.getManager(), DataType.FLOAT32, initial.getShape());
    }

    private PrefixEncoder(NDArray initial, SequentialBlock transform) {
        numVirtualTokens = Math.toIntExact(initial.getShape().get(0));
        embedding = addParameter(Parameter.builder().setName("embedding").setType(Parameter.Type.WEIGHT).build());
        embedding.setArray(initial);
        this.transform = transform == null ? null : addChildBlock("transform", transform);
    }

    /** Returns whether an MLP produces the prefixes. */
    public boolean hasProjection() {
        return transform != null;
    }

    @Override
    public Kind kind() {
        return Kind.PREFIX;
    }

    @Override
    public int numVirtualTokens() {
        return numVirtualTokens;
    }

    @Override
    public NDArray virtualTokens(ParameterStore parameterStore, Device device, boolean training) {
        NDArray table = parameterStore.getValue(embedding, device, training);
        if (transform == null) {
            return table;
        }
        return transform.forward(parameterStore, new NDList(table), training).singletonOrThrow();
    }

    /** Returns the prefixes [n, layers·2·hidden] as they are now, without recording gradients. */
    NDArray currentPrefixes() {
        NDArray table = embedding.getArray();
        if (transform == null) {
            return table;
        }
        ParameterStore ps = new ParameterStore(table.getManager(), false);
        return transform.forward(ps, new NDList(table.stopGradient()), false).singletonOrThrow();
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape table = embedding.getArray().getShape();
        return transform == null ? new Shape[] {table} : transform.getOutputShapes(new Shape[] {table});
    }

    @Override
    protected void initializeChildBlocks(ai.djl.ndarray.NDManager manager, DataType dataType, Shape... inputShapes) {
        if (transform != null) {
            transform.initialize(manager, dataType, embedding.getArray().getShape());
        }
    }
}
