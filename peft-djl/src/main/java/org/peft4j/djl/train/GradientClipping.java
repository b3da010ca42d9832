package org.peft4j.djl.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.nn.Parameter;
import java.util.Collection;

/**
 * Clips gradients by their global L2 norm, as PyTorch's {@code clip_grad_norm_} does (DJL's
 * optimizers only clamp each value): if the norm over all the given parameters' gradients exceeds
 * {@code maxNorm}, every gradient is scaled by maxNorm / norm.
 */
public final class GradientClipping {
    private GradientClipping() {}

    /**
     * Clips in place and returns the global norm before clipping. Parameters without a gradient are
     * skipped.
     */
    public static double clipByGlobalNorm(Collection<Parameter> parameters, double maxNorm) {
        if (!(maxNorm > 0)) {
            throw new IllegalArgumentException("max_grad_norm must be positive, got " + maxNorm);
        }
        // one native sum over all gradients, so a step reads a single number back to the host
        NDList squares = new NDList();
        try {
            for (Parameter p : parameters) {
                NDArray array = p.getArray();
                if (array.hasGradient()) {
                    try (NDArray grad = array.getGradient(); NDArray square = grad.square()) {
                        squares.add(square.sum());
                    }
                }
            }
            if (squares.isEmpty()) {
                return 0;
            }
        } catch (RuntimeException e) {
            squares.close();
            throw e;
        }
        double sumSquares;
        try (NDArray stacked = NDArrays.stack(squares); NDArray total = stacked.sum()) {
            sumSquares = total.getFloat();
        } finally {
            squares.close();
        }
        double norm = Math.sqrt(sumSquares);
        if (norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
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
}
