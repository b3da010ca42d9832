package org.peft4j.api.lora.algebra;

import java.util.Arrays;
import org.apache.commons.math3.linear.Array2DRowRealMatrix;
import org.apache.commons.math3.linear.RealMatrix;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;

/** Conversions between 2-D {@link Tensor}s and Commons Math matrices. */
final class Matrices {
    private Matrices() {}

    /**
     * Reads a 2-D floating-point tensor as a matrix of doubles.
     *
     * @param name the tensor's name or key, for messages
     * @throws IllegalArgumentException if the tensor is not 2-D or not floating-point
     */
    static RealMatrix toMatrix(Tensor t, String name) {
        long[] shape = t.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException(name + ": expected a 2-D matrix, got shape " + Arrays.toString(shape));
        }
        if (!t.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException(name + ": expected a floating-point tensor, got " + t.dtype());
        }
        int rows = Math.toIntExact(shape[0]);
        int cols = Math.toIntExact(shape[1]);
        double[] v = t.toDoubleArray();
        double[][] data = new double[rows][];
        for (int i = 0; i < rows; i++) {
            data[i] = Arrays.copyOfRange(v, i * cols, (i + 1) * cols);
        }
        return new Array2DRowRealMatrix(data, false);
    }

    /** Writes a matrix as a tensor of {@code dtype} (F32, F64, F16 or BF16), rows first. */
    static Tensor toTensor(RealMatrix m, DType dtype) {
        int rows = m.getRowDimension();
        int cols = m.getColumnDimension();
        double[] v = new double[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                v[i * cols + j] = m.getEntry(i, j);
            }
        }
        return Tensor.ofDoubles(new long[] {rows, cols}, v).convertTo(dtype);
    }

    /** Returns the first {@code cols} columns of {@code m}, zero-padded on the right if it has fewer. */
    static RealMatrix firstColumns(RealMatrix m, int cols) {
        RealMatrix out = new Array2DRowRealMatrix(m.getRowDimension(), cols);
        int keep = Math.min(cols, m.getColumnDimension());
        if (keep > 0) {
            out.setSubMatrix(m.getSubMatrix(0, m.getRowDimension() - 1, 0, keep - 1).getData(), 0, 0);
        }
        return out;
    }

    /** Returns the first {@code rows} rows of {@code m}, zero-padded below if it has fewer. */
    static RealMatrix firstRows(RealMatrix m, int rows) {
        return firstColumns(m.transpose(), rows).transpose();
    }
}
