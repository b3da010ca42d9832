package org.peft4j.djl.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import org.peft4j.api.safetensors.Tensor;

/** Copies between DJL {@link NDArray}s and framework-neutral {@link Tensor}s. */
public final class TensorConversions {
    private TensorConversions() {}

    /** Returns an F32 tensor holding a copy of {@code array}'s values. */
    public static Tensor toTensor(NDArray array) {
        float[] values = array.getDataType() == DataType.FLOAT32
                ? array.toFloatArray()
                : array.toType(DataType.FLOAT32, false).toFloatArray();
        return Tensor.ofFloats(array.getShape().getShape(), values);
    }

    /**
     * Returns a new array of type {@code dataType} on {@code manager} holding {@code tensor}'s
     * values (F16, BF16 and F64 are converted through float32).
     */
    public static NDArray toNDArray(NDManager manager, Tensor tensor, DataType dataType) {
        NDArray array = manager.create(tensor.toFloatArray(), new Shape(tensor.shape()));
        return dataType == DataType.FLOAT32 ? array : array.toType(dataType, false);
    }

    /**
     * Overwrites the values of an existing float32 array in place with {@code tensor}'s values
     * (same element count), keeping the array object, so that every holder of it sees the change.
     */
    public static void copyInto(Tensor tensor, NDArray target) {
        if (tensor.elementCount() != target.size()) {
            throw new IllegalArgumentException("cannot copy a tensor of shape " + java.util.Arrays.toString(tensor.shape())
                    + " into an array of shape " + target.getShape());
        }
        target.set(java.nio.FloatBuffer.wrap(tensor.toFloatArray()));
    }
}
