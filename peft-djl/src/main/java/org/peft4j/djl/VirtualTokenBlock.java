package org.peft4j.djl;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;

/**
 * A block that produces the trainable virtual tokens of prompt- or prefix-tuning, read by a
 * {@link VirtualTokenHost} on every forward pass.
 */
public abstract class VirtualTokenBlock extends AbstractBlock {
    /** What the rows are. */
    public enum Kind {
        /** Input embeddings [n, hidden] placed in front of the word embeddings. */
        PROMPT,
        /** Key and value prefixes [n, layers·2·hidden] for every attention layer. */
        PREFIX
    }

    /** Returns what the rows are. */
    public abstract Kind kind();

    /** Returns the number of virtual tokens n. */
    public abstract int numVirtualTokens();

    /**
     * Returns the virtual tokens: [n, hidden] for PROMPT, [n, layers·2·hidden] for PREFIX.
     *
     * @param training whether gradients are being recorded
     */
    public abstract NDArray virtualTokens(ParameterStore parameterStore, Device device, boolean training);

    /**
     * Returns the virtual tokens ({@link #virtualTokens}) owned by the manager of {@code input},
     * an array of the forward pass. The block computes from parameters, whose results DJL would
     * attach to the model's manager and keep until the model closes; a scope closes those
     * intermediates now (autograd keeps what it needs).
     */
    public NDArray virtualTokensFor(ParameterStore parameterStore, NDArray input, boolean training) {
        try (NDScope scope = new NDScope()) {
            // a new array over the result (which may be a parameter's own array): closing it with the
            // forward pass's manager must never free the parameter
            NDArray tokens = virtualTokens(parameterStore, input.getDevice(), training);
            NDArray owned = tokens.reshape(tokens.getShape());
            NDScope.unregister(owned);
            owned.attach(input.getManager());
            return owned;
        }
    }

    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        Device device = inputs.isEmpty() ? parameterStore.getManager().getDevice() : inputs.head().getDevice();
        return new NDList(virtualTokens(parameterStore, device, training));
    }
}
