package org.peft4j.djl.prompt;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import org.peft4j.djl.VirtualTokenBlock;

/** Prompt-tuning's trainable virtual-token embeddings P [n, hidden], its one parameter {@code embedding}. */
public final class PromptEmbedding extends VirtualTokenBlock {
    private final Parameter embedding;
    private final int numVirtualTokens;

    PromptEmbedding(NDArray initial) {
        Shape shape = initial.getShape();
        numVirtualTokens = Math.toIntExact(shape.get(0));
        embedding = addParameter(Parameter.builder().setName("embedding").setType(Parameter.Type.WEIGHT).build());
        embedding.setArray(initial);
    }

    /** Returns P [n, hidden]. */
    public Parameter embedding() {
        return embedding;
    }

    @Override
    public Kind kind() {
        return Kind.PROMPT;
    }

    @Override
    public int numVirtualTokens() {
        return numVirtualTokens;
    }

    @Override
    public NDArray virtualTokens(ParameterStore parameterStore, Device device, boolean training) {
        return parameterStore.getValue(embedding, device, training);
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {embedding.getArray().getShape()};
    }
}
