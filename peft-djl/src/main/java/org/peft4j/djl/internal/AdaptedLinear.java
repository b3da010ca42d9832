package org.peft4j.djl.internal;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A DJL {@link Linear} layer that wraps another and carries one method's adapters on it, by name:
 * the bookkeeping that every such method shares (which adapter is active, disabled or merged, and
 * how to put the wrapped layer back), with the method's own arithmetic left to its subclass. It
 * extends {@code Linear} so that it can take the wrapped layer's place in any field typed
 * {@code Linear}, as DJL's own transformer blocks declare theirs.
 *
 * <p>It owns no copy of W or b: its parameter map holds the wrapped layer's very {@link Parameter}
 * objects, then each adapter's parameters ({@link #parametersOf}). The injection and the attached
 * adapter that manage it live in this package ({@link LayerInjection}, {@link LayerAdapter}).
 *
 * @param <T> one adapter's weights on one layer
 */
public abstract class AdaptedLinear<T> extends Linear {
    private final Linear base;
    private final Parameter weight;
    private final Parameter bias;
    private final Map<String, T> adapters = new LinkedHashMap<>();
    private String activeAdapter;
    private boolean disabled;
    private String mergedAdapter;
    private BlockSurgery.Undo unwrap;

    /**
     * Wraps {@code base}, whose weight must be initialized (the injection checks it first).
     *
     * @param base the layer to wrap
     */
    protected AdaptedLinear(Linear base) {
        super(Linear.builder().setUnits(base.getDirectParameters().get("weight").getArray().getShape().get(0))
                .optBias(base.getDirectParameters().get("bias") != null));
        this.base = base;
        this.weight = base.getDirectParameters().get("weight");
        this.bias = base.getDirectParameters().get("bias");
        parameters.clear();
        parameters.put("weight", weight);
        if (bias != null) {
            parameters.put("bias", bias);
        }
        try {
            beforeInitialize(base.getInputShapes());
        } catch (IllegalStateException e) {
            // the base was given arrays without a forward pass; its input shape is unknown
        }
    }

    /** Returns the wrapped layer, whose parameters this layer uses. */
    public Linear base() {
        return base;
    }

    /** Returns the wrapped layer's weight W [out, in]. */
    public Parameter weight() {
        return weight;
    }

    /** Returns the wrapped layer's bias, or null if it has none. */
    public Parameter bias() {
        return bias;
    }

    /** Returns the number of input features. */
    public long inFeatures() {
        return weight.getArray().getShape().get(1);
    }

    /** Returns the number of output features. */
    public long outFeatures() {
        return weight.getArray().getShape().get(0);
    }

    /** Returns one adapter's parameters, in the order they train and are listed. */
    protected abstract List<Parameter> parametersOf(T adapter);

    /** Folds {@code adapter} into W (and b) in place. */
    protected abstract void merge(T adapter);

    /** Takes the merged {@code adapter} back out of W (and b) in place. */
    protected abstract void unmerge(T adapter);

    /**
     * Called when the merged {@code adapter} is removed and its merge stays in W: drops whatever
     * was kept to undo it. Does nothing unless a method keeps something.
     */
    protected void mergeKept(T adapter) {}

    /**
     * Computes the layer's output with the active, unmerged {@code adapter}.
     *
     * @param adapter the active adapter's weights
     * @param parameterStore where the forward pass takes parameter values from
     * @param x the input
     * @param w W's value for this pass
     * @param b b's value for this pass, or null without a bias
     * @param training whether the pass trains
     * @return the output
     */
    protected abstract NDList forwardAdapted(
            T adapter, ParameterStore parameterStore, NDArray x, NDArray w, NDArray b, boolean training);

    /** Returns the adapters on this layer by name. */
    Map<String, T> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    void addAdapter(String name, T adapter) {
        adapters.put(name, adapter);
        for (Parameter p : parametersOf(adapter)) {
            parameters.put(p.getName(), p);
        }
    }

    /** Removes an adapter and closes its arrays; a merged one is unmerged first unless {@code keepMerged}. */
    void removeAdapter(String name, boolean keepMerged) {
        T adapter = adapters.remove(name);
        if (adapter == null) {
            return;
        }
        if (name.equals(mergedAdapter)) {
            if (keepMerged) {
                mergeKept(adapter);
            } else {
                unmerge(adapter);
            }
            mergedAdapter = null;
        }
        if (name.equals(activeAdapter)) {
            activeAdapter = null;
        }
        for (Parameter p : parametersOf(adapter)) {
            parameters.remove(p.getName());
            p.close();
        }
    }

    /** Remembers how to put the wrapped layer back in this layer's place. */
    void wrappedBy(BlockSurgery.Undo undo) {
        this.unwrap = undo;
    }

    /** Puts the wrapped layer back in this layer's place in the tree. */
    void unwrap() {
        if (unwrap != null) {
            unwrap.revert();
            unwrap = null;
        }
    }

    void unmergeIfMerged(String name) {
        if (name.equals(mergedAdapter)) {
            unmerge();
        }
    }

    void setActiveAdapter(String name) {
        activeAdapter = adapters.containsKey(name) ? name : null;
    }

    void setDisabled(boolean disabled) {
        this.disabled = disabled;
    }

    /** Returns the name of the adapter merged into W, or null. */
    String mergedAdapter() {
        return mergedAdapter;
    }

    /** Folds the active adapter into W, unless one is merged already or none is active. */
    void merge() {
        if (mergedAdapter != null || activeAdapter == null) {
            return;
        }
        merge(adapters.get(activeAdapter));
        mergedAdapter = activeAdapter;
    }

    /** Takes the merged adapter, if any, back out of W. */
    void unmerge() {
        if (mergedAdapter != null) {
            unmerge(adapters.get(mergedAdapter));
            mergedAdapter = null;
        }
    }

    /** {@inheritDoc} */
    @Override
    protected final NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Device device = x.getDevice();
        NDArray w = parameterStore.getValue(weight, device, training);
        NDArray b = parameterStore.getValue(bias, device, training);
        if (disabled || activeAdapter == null || activeAdapter.equals(mergedAdapter)) {
            return linear(x, w, b);
        }
        return forwardAdapted(adapters.get(activeAdapter), parameterStore, x, w, b, training);
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return getClass().getSimpleName() + "(in=" + inFeatures() + ", out=" + outFeatures() + ", adapters="
                + adapters.keySet() + ", active=" + activeAdapter + (mergedAdapter != null ? ", merged" : "") + ")";
    }
}
