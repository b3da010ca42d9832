package org.peft4j.djl.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import java.util.Collection;

/**
 * Clips gradients by their global L2 norm, as PyTorch's {@code clip_grad_norm_} does (DJL's
 * optimizers only clamp each value): if the norm over all the given parameters' gradients exceeds
 * {@code maxNorm}, every gradient is scaled by maxNorm / (norm + 1e-6). {@link AdamW} takes that
 * factor as its gradient scale, so the gradients need not be scaled in a pass of their own.
 */
public final class GradientClipping {
    private GradientClipping() {}

    /**
     * Returns the L2 norm of all the given parameters' gradients together: one native norm per
     * gradient (no temporary), one over those norms, and a single number read back to the host.
     * Parameters without a gradient are skipped; with none the norm is 0.
     */
    public static double globalNorm(Collection<Parameter> parameters) {
        NDList norms = new NDList();
        try {
            for (Parameter p : parameters) {
                NDArray array = p.getArray();
                if (array.hasGradient()) {
                    try (NDArray grad = array.getGradient()) {
                        norms.add(grad.norm());
                    }
                }
            }
            if (norms.isEmpty()) {
                return 0;
            }
            try (NDArray stacked = NDArrays.stack(norms); NDArray total = stacked.norm()) {
                return total.getFloat();
            }
        } finally {
            norms.close();
        }
    }

    /**
     * Returns the factor that clips gradients of global norm {@code norm} to {@code maxNorm}:
     * maxNorm / (norm + 1e-6) if the norm exceeds maxNorm, otherwise 1.
     *
     * @throws IllegalArgumentException if maxNorm is not positive
     */
    public static float coefficient(double norm, double maxNorm) {
        requirePositive(maxNorm);
        return norm > maxNorm ? (float) (maxNorm / (norm + 1e-6)) : 1f;
    }

    /**
     * Clips in place and returns the global norm before clipping. Parameters without a gradient are
     * skipped.
     */
    public static double clipByGlobalNorm(Collection<Parameter> parameters, double maxNorm) {
        requirePositive(maxNorm);
        double norm = globalNorm(parameters);
        float scale = coefficient(norm, maxNorm);
        if (scale != 1f) {
            for (Parameter p : parameters) {
                NDArray array = p.getArray();
                if (array.hasGradient()) {
                    try (NDArray grad = array.getGradient()) {
                        grad.muli(scale);
                    }
                }
            }
        }
        return norm;
    }

    private static void requirePositive(double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max_grad_norm must be positive, got " + maxNorm);
        }
    }
}
