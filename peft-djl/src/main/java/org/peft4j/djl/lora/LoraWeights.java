package org.peft4j.djl.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;

/**
 * One adapter's matrices on one layer: A [r, in], B [out, r], the scaling s, and with DoRA the
 * magnitude vector m [out].
 */
final class LoraWeights {
    final Parameter a;
    final Parameter b;
    final float scaling;
    final float dropout;
    /** DoRA's magnitude m [out], or null for plain LoRA. */
    final Parameter magnitude;

    LoraWeights(String adapterName, NDArray a, NDArray b, float scaling, float dropout) {
        this(adapterName, a, b, null, scaling, dropout);
    }

    /** With {@code magnitude} not null, DoRA's weights: A, B and the magnitude m [out]. */
    LoraWeights(String adapterName, NDArray a, NDArray b, NDArray magnitude, float scaling, float dropout) {
        this.a = parameter("lora_A." + adapterName, a);
        this.b = parameter("lora_B." + adapterName, b);
        this.magnitude = magnitude == null ? null : parameter("lora_magnitude_vector." + adapterName, magnitude);
        this.scaling = scaling;
        this.dropout = dropout;
    }

    private static Parameter parameter(String name, NDArray value) {
        Parameter p = Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build();
        p.setArray(value);
        return p;
    }

    /** Returns s·B·A [out, in], computed without recording gradients. */
    NDArray delta() {
        return b.getArray().stopGradient().matMul(a.getArray().stopGradient()).muli(scaling);
    }

    /**
     * Returns ||W + s·B·A|| of each output row [out] of {@code w} [out, in], computed without
     * recording gradients and attached to {@code manager} (its temporaries are freed): DoRA's norm,
     * which PEFT computes at init ({@code peft/tuners/lora/dora.py}, {@code update_layer}, lines
     * 101-130 in PEFT 0.21) and detaches from the graph in the forward pass (lines 143-152).
     */
    static NDArray rowNorms(NDArray w, NDArray a, NDArray b, float scaling, NDManager manager) {
        NDArray norms;
        try (NDScope scope = new NDScope()) {
            NDArray lora = b.stopGradient().matMul(a.stopGradient()).muli(scaling);
            norms = lora.addi(w.stopGradient()).norm(new int[] {1});
            NDScope.unregister(norms);
        }
        norms.attach(manager);
        return norms;
    }
}
