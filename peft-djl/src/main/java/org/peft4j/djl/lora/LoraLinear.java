package org.peft4j.djl.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import java.util.List;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.AdaptedLinear;
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
public final class LoraLinear extends AdaptedLinear<LoraWeights> {
    /** W as it was before a DoRA adapter was merged, to restore it bit for bit; null otherwise. */
    private Tensor weightBeforeDoraMerge;

    /** The base must be initialized, which {@link LoraInjector} checks first. */
    LoraLinear(Linear base) {
        super(base);
    }

    /** {@inheritDoc} A and B, then DoRA's magnitude if the adapter has one. */
    @Override
    protected List<Parameter> parametersOf(LoraWeights lora) {
        return lora.magnitude == null ? List.of(lora.a, lora.b) : List.of(lora.a, lora.b, lora.magnitude);
    }

    /**
     * Adds s·B·A of the adapter to W in place; for DoRA, W becomes
     * m / ||W + s·B·A||_row · (W + s·B·A), row by row (PEFT's {@code DoraLinearVariant.merge_unsafe},
     * {@code peft/tuners/lora/variants.py}), and the unmerged W is kept to be restored exactly.
     */
    @Override
    protected void merge(LoraWeights lora) {
        try (NDScope scope = new NDScope()) {
            NDArray w = weight().getArray();
            if (lora.magnitude != null) {
                weightBeforeDoraMerge = TensorConversions.toTensor(w);
                NDArray norms = w.addi(lora.delta()).norm(new int[] {1}, true);
                w.muli(lora.magnitude.getArray().stopGradient().reshape(-1, 1).div(norms));
            } else {
                w.addi(lora.delta());
            }
        }
    }

    /** Takes {@code lora} out of W: subtracts s·B·A, or for DoRA restores W as it was before the merge, bit for bit. */
    @Override
    protected void unmerge(LoraWeights lora) {
        if (lora.magnitude != null) {
            TensorConversions.copyInto(weightBeforeDoraMerge, weight().getArray());
            weightBeforeDoraMerge = null;
        } else {
            try (NDScope scope = new NDScope()) {
                weight().getArray().subi(lora.delta());
            }
        }
    }

    /** {@inheritDoc} Forgets the W kept to undo a DoRA merge. */
    @Override
    protected void mergeKept(LoraWeights lora) {
        weightBeforeDoraMerge = null;
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardAdapted(
            LoraWeights lora, ParameterStore parameterStore, NDArray x, NDArray w, NDArray biasValue, boolean training) {
        NDArray y = linear(x, w, biasValue).singletonOrThrow();
        boolean dropout = training && lora.dropout > 0;
        NDArray h = dropout ? Dropout.dropout(x, lora.dropout, true).singletonOrThrow() : x;
        NDArray a = parameterStore.getValue(lora.a, x.getDevice(), training);
        NDArray b = parameterStore.getValue(lora.b, x.getDevice(), training);
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
        NDArray g = parameterStore.getValue(lora.magnitude, x.getDevice(), training).div(norms);
        g.attach(x.getManager()); // with this batch's arrays, not the parameter's manager
        NDArray baseH = dropout ? linear(h, w).singletonOrThrow() : biasValue == null ? y : y.sub(biasValue);
        NDArray one = NativeScalars.of(x.getManager(), 1f);
        return new NDList(y.add(baseH.mul(g.sub(one))).add(up.mul(g)));
    }
}
