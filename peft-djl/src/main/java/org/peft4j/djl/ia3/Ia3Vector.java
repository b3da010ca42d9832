package org.peft4j.djl.ia3;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;

/**
 * One adapter's vector on one layer: l of shape [1, in] for a feed-forward module (the input is
 * scaled) or [out, 1] otherwise (the output is scaled), the shapes PEFT saves.
 */
final class Ia3Vector {
    final Parameter l;
    final boolean feedforward;

    Ia3Vector(String adapterName, NDArray l, boolean feedforward) {
        this.l = Parameter.builder().setName("ia3_l." + adapterName).setType(Parameter.Type.WEIGHT).build();
        this.l.setArray(l);
        this.feedforward = feedforward;
    }
}
