package org.peft4j.djl.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;

/** One adapter's matrices on one layer: A [r, in], B [out, r], and the scaling s. */
final class LoraWeights {
    final String adapterName;
    final Parameter a;
    final Parameter b;
    final float scaling;
    final float dropout;

    LoraWeights(String adapterName, NDArray a, NDArray b, float scaling, float dropout) {
        this.adapterName = adapterName;
        this.a = parameter("lora_A." + adapterName, a);
        this.b = parameter("lora_B." + adapterName, b);
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
}
