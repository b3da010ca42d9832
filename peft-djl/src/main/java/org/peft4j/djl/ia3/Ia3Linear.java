package org.peft4j.djl.ia3;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.djl.internal.BlockSurgery;

/**
 * A DJL {@link Linear} layer carrying (IA)³ vectors, computing what PEFT's {@code ia3.Linear.forward}
 * computes (peft/tuners/ia3/layer.py lines 172-199 in PEFT 0.21): with the active adapter's vector
 * l, y = W (l ⊙ x) + b on a feed-forward module (l [1, in]) and y = l ⊙ (W x + b) otherwise
 * (l [out, 1]), where W and b are the wrapped layer's own frozen parameters. It extends
 * {@code Linear} so that it can take the wrapped layer's place in any field typed {@code Linear}.
 *
 * <p>It owns no copy of W or b: its parameter map holds the wrapped layer's very {@link Parameter}
 * objects, then {@code ia3_l.<adapter>} for each adapter. Instances are created and managed by
 * {@link org.peft4j.djl.PeftModel}.
 */
public final class Ia3Linear extends Linear {
    /** What PEFT adds to l before it divides by it on unmerge (layer.py lines 162-170): no division by zero. */
    static final float UNMERGE_EPSILON = 1e-8f;

    private final Linear base;
    private final Parameter weight;
    private final Parameter bias;
    private final Map<String, Ia3Vector> adapters = new LinkedHashMap<>();
    private String activeAdapter;
    private boolean disabled;
    private String mergedAdapter;
    private BlockSurgery.Undo unwrap;

    Ia3Linear(Linear base) {
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

    Map<String, Ia3Vector> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    void addAdapter(Ia3Vector vector) {
        adapters.put(vector.adapterName, vector);
        parameters.put(vector.l.getName(), vector.l);
    }

    /** Removes an adapter and closes its array; a merged one is unmerged first unless {@code keepMerged}. */
    void removeAdapter(String name, boolean keepMerged) {
        Ia3Vector vector = adapters.remove(name);
        if (vector == null) {
            return;
        }
        if (name.equals(mergedAdapter)) {
            if (!keepMerged) {
                unmerge(vector);
            }
            mergedAdapter = null;
        }
        if (name.equals(activeAdapter)) {
            activeAdapter = null;
        }
        parameters.remove(vector.l.getName());
        vector.l.close();
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

    /**
     * Scales W by the active adapter's vector in place, as PEFT's {@code merge} does (layer.py lines
     * 139-145): W's columns by l [1, in] on a feed-forward module; otherwise W's rows and b by
     * l [out, 1].
     */
    void merge() {
        if (mergedAdapter != null || activeAdapter == null) {
            return;
        }
        Ia3Vector vector = adapters.get(activeAdapter);
        try (NDScope scope = new NDScope()) {
            NDArray l = vector.l.getArray().stopGradient();
            weight.getArray().muli(l);
            if (!vector.feedforward && bias != null) {
                bias.getArray().muli(l.reshape(bias.getArray().getShape()));
            }
        }
        mergedAdapter = activeAdapter;
    }

    /** Divides the merged adapter's vector back out of W (and b), as {@link #merge} multiplied it in. */
    void unmerge() {
        if (mergedAdapter != null) {
            unmerge(adapters.get(mergedAdapter));
        }
    }

    /**
     * PEFT's {@code unmerge} (layer.py lines 157-170): W / (l + 1e-8), and b / (l + 1e-8) on a module
     * that is not feed-forward. The added 1e-8 is below float32's resolution near one, so for
     * vectors of ordinary size this is W / l to the rounding of one division.
     */
    private void unmerge(Ia3Vector vector) {
        try (NDScope scope = new NDScope()) {
            NDArray l = vector.l.getArray().stopGradient().add(UNMERGE_EPSILON);
            weight.getArray().divi(l);
            if (!vector.feedforward && bias != null) {
                bias.getArray().divi(l.reshape(bias.getArray().getShape()));
            }
        }
        mergedAdapter = null;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardInternal(
            ParameterStore parameterStore, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        Device device = x.getDevice();
        NDArray w = parameterStore.getValue(weight, device, training);
        NDArray b = parameterStore.getValue(bias, device, training);
        if (disabled || activeAdapter == null || activeAdapter.equals(mergedAdapter)) {
            return linear(x, w, b);
        }
        Ia3Vector vector = adapters.get(activeAdapter);
        // [1, in] or [out, 1] flattened, so that it broadcasts over the last axis of x or of y
        NDArray l = parameterStore.getValue(vector.l, device, training).flatten();
        if (vector.feedforward) {
            return linear(x.mul(l), w, b);
        }
        return new NDList(linear(x, w, b).singletonOrThrow().mul(l));
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "Ia3Linear(in=" + inFeatures() + ", out=" + outFeatures() + ", adapters=" + adapters.keySet()
                + ", active=" + activeAdapter + (mergedAdapter != null ? ", merged" : "") + ")";
    }
}
