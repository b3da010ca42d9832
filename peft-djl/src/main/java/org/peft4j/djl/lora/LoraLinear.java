package org.peft4j.djl.lora;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.BlockSurgery;
import org.peft4j.djl.internal.NativeScalars;
import org.peft4j.djl.internal.TensorConversions;

/**
 * A DJL {@link Linear} layer carrying LoRA adapters: y = W x + b + s·B(A(dropout(x))), where W and
 * b are the wrapped layer's own (frozen) parameters and A [r, in], B [out, r] belong to the active
 * adapter. It extends {@code Linear} so that it can take the wrapped layer's place in any field
 * typed {@code Linear}, as DJL's own transformer blocks declare theirs.
 *
 * <p>A DoRA adapter ({@code use_dora}) also has a magnitude m [out] and computes
 * y = m / ||W + s·B·A||_row · (W x + s·B·A x) + b, as PEFT's {@code DoraLinearLayer} does.
 *
 * <p>It owns no copy of W or b: its parameter map holds the wrapped layer's very {@link Parameter}
 * objects, then {@code lora_A.<adapter>} and {@code lora_B.<adapter>} (and with DoRA
 * {@code lora_magnitude_vector.<adapter>}) for each adapter. Instances are created and managed by
 * {@link org.peft4j.djl.PeftModel}.
 */
public final class LoraLinear extends Linear {
    private final Linear base;
    private final Parameter weight;
    private final Parameter bias;
    private final Map<String, LoraWeights> adapters = new LinkedHashMap<>();
    private String activeAdapter;
    private boolean disabled;
    private String mergedAdapter;
    /** W as it was before a DoRA adapter was merged, to restore it bit for bit; null otherwise. */
    private Tensor weightBeforeDoraMerge;
    private BlockSurgery.Undo unwrap;

    LoraLinear(Linear base) {
        super(Linear.builder().setUnits(outFeatures(base)).optBias(base.getDirectParameters().get("bias") != null));
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

    /** The base must be initialized, which {@link LoraInjector} checks first. */
    private static long outFeatures(Linear base) {
        Parameter w = base.getDirectParameters().get("weight");
        return w.getArray().getShape().get(0);
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

    /** Returns the adapters on this layer by name. */
    Map<String, LoraWeights> adapters() {
        return Collections.unmodifiableMap(adapters);
    }

    void addAdapter(LoraWeights lora) {
        adapters.put(lora.adapterName, lora);
        parameters.put(lora.a.getName(), lora.a);
        parameters.put(lora.b.getName(), lora.b);
        if (lora.magnitude != null) {
            parameters.put(lora.magnitude.getName(), lora.magnitude);
        }
    }

    /** Removes an adapter and closes its arrays; a merged one is unmerged first unless {@code keepMerged}. */
    void removeAdapter(String name, boolean keepMerged) {
        LoraWeights lora = adapters.remove(name);
        if (lora == null) {
            return;
        }
        if (name.equals(mergedAdapter)) {
            if (!keepMerged) {
                unmerge(lora);
            }
            mergedAdapter = null;
            weightBeforeDoraMerge = null;
        }
        if (name.equals(activeAdapter)) {
            activeAdapter = null;
        }
        parameters.remove(lora.a.getName());
        parameters.remove(lora.b.getName());
        lora.a.close();
        lora.b.close();
        if (lora.magnitude != null) {
            parameters.remove(lora.magnitude.getName());
            lora.magnitude.close();
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

    /**
     * Adds s·B·A of the active adapter to W in place; for DoRA, W becomes
     * m / ||W + s·B·A||_row · (W + s·B·A), row by row (PEFT's {@code DoraLinearVariant.merge_unsafe},
     * {@code peft/tuners/lora/variants.py}), and the unmerged W is kept to be restored exactly.
     */
    void merge() {
        if (mergedAdapter != null || activeAdapter == null) {
            return;
        }
        LoraWeights lora = adapters.get(activeAdapter);
        try (NDScope scope = new NDScope()) {
            NDArray w = weight.getArray();
            if (lora.magnitude != null) {
                weightBeforeDoraMerge = TensorConversions.toTensor(w);
                NDArray norms = w.addi(lora.delta()).norm(new int[] {1}, true);
                w.muli(lora.magnitude.getArray().stopGradient().reshape(-1, 1).div(norms));
            } else {
                w.addi(lora.delta());
            }
        }
        mergedAdapter = activeAdapter;
    }

    /** Subtracts the merged adapter's s·B·A from W in place. */
    void unmerge() {
        if (mergedAdapter != null) {
            unmerge(adapters.get(mergedAdapter));
        }
    }

    /** Takes {@code lora} out of W: for DoRA, W as it was before the merge, bit for bit. */
    private void unmerge(LoraWeights lora) {
        if (lora.magnitude != null) {
            TensorConversions.copyInto(weightBeforeDoraMerge, weight.getArray());
            weightBeforeDoraMerge = null;
        } else {
            try (NDScope scope = new NDScope()) {
                weight.getArray().subi(lora.delta());
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
        NDArray biasValue = parameterStore.getValue(bias, device, training);
        NDArray y = linear(x, w, biasValue).singletonOrThrow();
        if (disabled || activeAdapter == null || activeAdapter.equals(mergedAdapter)) {
            return new NDList(y);
        }
        LoraWeights lora = adapters.get(activeAdapter);
        boolean dropout = training && lora.dropout > 0;
        NDArray h = dropout ? Dropout.dropout(x, lora.dropout, true).singletonOrThrow() : x;
        NDArray a = parameterStore.getValue(lora.a, device, training);
        NDArray b = parameterStore.getValue(lora.b, device, training);
        NDArray down = linear(h, a).singletonOrThrow();
        // scaling the r-wide projection, not the out-wide result, costs r/out of the multiplications
        NDArray scaled = down.mul(NativeScalars.of(x.getManager(), lora.scaling));
        NDArray up = linear(scaled, b).singletonOrThrow();
        if (lora.magnitude == null) {
            return new NDList(y.add(up));
        }
        // DoRA as PEFT computes it (peft/tuners/lora/dora.py, DoraLinearLayer.forward, lines 132-165, and
        // variants.py, DoraLinearVariant.forward, lines 229-257, PEFT 0.21): with g = m / ||W + s·B·A||_row
        // (the norm detached), y + (g - 1)·W h + g·s·B·A h, where h = dropout(x) while training with dropout
        // and W h is then computed anew; otherwise h = x and W h = y - b, so y = g·(W x + s·B·A x) + b
        NDArray norms = LoraWeights.rowNorms(w, a, b, lora.scaling, x.getManager());
        NDArray g = parameterStore.getValue(lora.magnitude, device, training).div(norms);
        g.attach(x.getManager()); // with this batch's arrays, not the parameter's manager
        NDArray baseH = dropout ? linear(h, w).singletonOrThrow() : biasValue == null ? y : y.sub(biasValue);
        NDArray one = NativeScalars.of(x.getManager(), 1f);
        return new NDList(y.add(baseH.mul(g.sub(one))).add(up.mul(g)));
    }

    /** {@inheritDoc} */
    @Override
    public String toString() {
        return "LoraLinear(in=" + inFeatures() + ", out=" + outFeatures() + ", adapters=" + adapters.keySet()
                + ", active=" + activeAdapter + (mergedAdapter != null ? ", merged" : "") + ")";
    }
}
