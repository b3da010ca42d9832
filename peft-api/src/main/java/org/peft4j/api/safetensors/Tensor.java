package org.peft4j.api.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * One immutable tensor as safetensors stores it: an element type, a shape and the raw
 * little-endian bytes, with conversions to and from Java arrays.
 */
public final class Tensor {
    private final DType dtype;
    private final long[] shape;
    private final byte[] data;

    private Tensor(DType dtype, long[] shape, byte[] data) {
        this.dtype = Objects.requireNonNull(dtype, "dtype");
        this.shape = shape.clone();
        long count = elementCount(this.shape);
        if (count * dtype.byteSize() != data.length) {
            throw new IllegalArgumentException(
                    "a " + dtype + " tensor of shape " + Arrays.toString(shape) + " needs "
                            + count * dtype.byteSize() + " bytes, got " + data.length);
        }
        this.data = data;
    }

    /**
     * Creates a tensor from raw little-endian bytes (copied).
     *
     * @throws IllegalArgumentException if the byte count does not fit the type and shape
     */
    public static Tensor of(DType dtype, long[] shape, byte[] littleEndianData) {
        return new Tensor(dtype, shape, littleEndianData.clone());
    }

    /** Creates an F32 tensor holding {@code values} in row-major order. */
    public static Tensor ofFloats(long[] shape, float[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(values);
        return new Tensor(DType.F32, shape, buffer.array());
    }

    /** Creates an F64 tensor holding {@code values} in row-major order. */
    public static Tensor ofDoubles(long[] shape, double[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asDoubleBuffer().put(values);
        return new Tensor(DType.F64, shape, buffer.array());
    }

    /** Creates an I64 tensor holding {@code values} in row-major order. */
    public static Tensor ofLongs(long[] shape, long[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asLongBuffer().put(values);
        return new Tensor(DType.I64, shape, buffer.array());
    }

    /** Returns the element type. */
    public DType dtype() {
        return dtype;
    }

    /** Returns a copy of the shape; an empty array for a scalar. */
    public long[] shape() {
        return shape.clone();
    }

    /** Returns the number of elements, the product of the shape. */
    public long elementCount() {
        return elementCount(shape);
    }

    /** Returns the number of data bytes. */
    public int byteSize() {
        return data.length;
    }

    /** Returns the raw data as a read-only little-endian buffer. */
    public ByteBuffer bytes() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Returns the values as floats, widening F16 and BF16 exactly and narrowing F64.
     *
     * @throws IllegalStateException if the type is not a floating-point type
     */
    public float[] toFloatArray() {
        ByteBuffer buffer = bytes();
        int n = Math.toIntExact(elementCount());
        float[] out = new float[n];
        switch (dtype) {
            case F32:
                buffer.asFloatBuffer().get(out);
                break;
            case F64:
                for (int i = 0; i < n; i++) {
                    out[i] = (float) buffer.getDouble(i * 8);
                }
                break;
            case F16:
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.halfToFloat(buffer.getShort(i * 2));
                }
                break;
            case BF16:
                for (int i = 0; i < n; i++) {
                    out[i] = HalfFloats.bfloat16ToFloat(buffer.getShort(i * 2));
                }
                break;
            default:
                throw new IllegalStateException("a " + dtype + " tensor has no float values");
        }
        return out;
    }

    /**
     * Returns the values as doubles: F64 as stored, every other floating-point type widened exactly.
     *
     * @throws IllegalStateException if the type is not a floating-point type
     */
    public double[] toDoubleArray() {
        if (dtype == DType.F64) {
            double[] out = new double[Math.toIntExact(elementCount())];
            bytes().asDoubleBuffer().get(out);
            return out;
        }
        float[] floats = toFloatArray();
        double[] out = new double[floats.length];
        for (int i = 0; i < floats.length; i++) {
            out[i] = floats[i];
        }
        return out;
    }

    /**
     * Returns the values of an integer tensor as longs.
     *
     * @throws IllegalStateException if the type is not an integer type
     */
    public long[] toLongArray() {
        ByteBuffer buffer = bytes();
        int n = Math.toIntExact(elementCount());
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            switch (dtype) {
                case I64:
                case U64:
                    out[i] = buffer.getLong(i * 8);
                    break;
                case I32:
                    out[i] = buffer.getInt(i * 4);
                    break;
                case U32:
                    out[i] = Integer.toUnsignedLong(buffer.getInt(i * 4));
                    break;
                case I16:
                    out[i] = buffer.getShort(i * 2);
                    break;
                case U16:
                    out[i] = Short.toUnsignedInt(buffer.getShort(i * 2));
                    break;
                case I8:
                    out[i] = buffer.get(i);
                    break;
                case U8:
                case BOOL:
                    out[i] = Byte.toUnsignedInt(buffer.get(i));
                    break;
                default:
                    throw new IllegalStateException("a " + dtype + " tensor has no integer values");
            }
        }
        return out;
    }

    /**
     * Returns this tensor's values in another floating-point type (rounding to nearest even when
     * narrowing), or this tensor if it already has that type.
     */
    public Tensor convertTo(DType target) {
        if (target == dtype) {
            return this;
        }
        float[] values = toFloatArray();
        ByteBuffer buffer =
                ByteBuffer.allocate(values.length * target.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (target) {
                case F32:
                    buffer.putFloat(v);
                    break;
                case F64:
                    buffer.putDouble(v);
                    break;
                case F16:
                    buffer.putShort(HalfFloats.floatToHalf(v));
                    break;
                case BF16:
                    buffer.putShort(HalfFloats.floatToBfloat16(v));
                    break;
                default:
                    throw new IllegalArgumentException("cannot convert floats to " + target);
            }
        }
        return new Tensor(target, shape, buffer.array());
    }

    static long elementCount(long[] shape) {
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            count = Math.multiplyExact(count, d);
        }
        return count;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Tensor)) {
            return false;
        }
        Tensor other = (Tensor) o;
        return dtype == other.dtype && Arrays.equals(shape, other.shape) && Arrays.equals(data, other.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(dtype, Arrays.hashCode(shape), Arrays.hashCode(data));
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Arrays.toString(shape) + "]";
    }
}
