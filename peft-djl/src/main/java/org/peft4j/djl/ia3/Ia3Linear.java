package org.peft4j.djl.ia3;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import java.util.List;
import org.peft4j.djl.internal.AdaptedLinear;

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
public final class Ia3Linear extends AdaptedLinear<Ia3Vector> {
    /** What PEFT adds to l before it divides by it on unmerge (layer.py lines 162-170): no division by zero. */
    static final float UNMERGE_EPSILON = 1e-8f;

    Ia3Linear(Linear base) {
        super(base);
    }

    /** {@inheritDoc} The vector l. */
    @Override
    protected List<Parameter> parametersOf(Ia3Vector vector) {
        return List.of(vector.l);
    }

    /**
     * Scales W by the adapter's vector in place, as PEFT's {@code merge} does (layer.py lines
     * 139-145): W's columns by l [1, in] on a feed-forward module; otherwise W's rows and b by
     * l [out, 1].
     */
    @Override
    protected void merge(Ia3Vector vector) {
        try (NDScope scope = new NDScope()) {
            NDArray l = vector.l.getArray().stopGradient();
            weight().getArray().muli(l);
            if (!vector.feedforward && bias() != null) {
                bias().getArray().muli(l.reshape(bias().getArray().getShape()));
            }
        }
    }

    /**
     * PEFT's {@code unmerge} (layer.py lines 157-170): W / (l + 1e-8), and b / (l + 1e-8) on a module
     * that is not feed-forward. The added 1e-8 is below float32's resolution near one, so for
     * vectors of ordinary size this is W / l to the rounding of one division.
     */
    @Override
    protected void unmerge(Ia3Vector vector) {
        try (NDScope scope = new NDScope()) {
            NDArray l = vector.l.getArray().stopGradient().add(UNMERGE_EPSILON);
            weight().getArray().divi(l);
            if (!vector.feedforward && bias() != null) {
                bias().getArray().divi(l.reshape(bias().getArray().getShape()));
            }
        }
    }

    /** {@inheritDoc} */
    @Override
    protected NDList forwardAdapted(
            Ia3Vector vector, ParameterStore parameterStore, NDArray x, NDArray w, NDArray b, boolean training) {
        // [1, in] or [out, 1] flattened, so that it broadcasts over the last axis of x or of y
        NDArray l = parameterStore.getValue(vector.l, x.getDevice(), training).flatten();
        if (vector.feedforward) {
            return linear(x.mul(l), w, b);
        }
        return new NDList(linear(x, w, b).singletonOrThrow().mul(l));
    }
}
