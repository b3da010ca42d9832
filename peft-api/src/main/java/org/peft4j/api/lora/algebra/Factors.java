package org.peft4j.api.lora.algebra;

import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.RealMatrix;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;

/**
 * A truncated SVD in Commons Math's matrices: U [rows, k], the k singular values descending, Vᵀ [k, cols].
 *
 * @param u the left singular vectors as columns
 * @param s the singular values, descending
 * @param vt the right singular vectors as rows
 */
record Factors(RealMatrix u, double[] s, RealMatrix vt) {
    /** Returns U · diag(S), the left factor that carries the singular values. */
    RealMatrix scaledU() {
        return u.multiply(MatrixUtils.createRealDiagonalMatrix(s));
    }

    /** Returns the factors as tensors of {@code dtype}. */
    Svd toSvd(DType dtype) {
        return new Svd(Matrices.toTensor(u, dtype), Tensor.ofDoubles(new long[] {s.length}, s.clone()).convertTo(dtype),
                Matrices.toTensor(vt, dtype));
    }
}
