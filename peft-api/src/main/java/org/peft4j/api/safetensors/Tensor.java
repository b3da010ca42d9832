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
        long needed;
        try {
            elementCount(this.shape);
            needed = byteCount(dtype, this.shape);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
        if (needed != data.length) {
            throw new IllegalArgumentException(
                    "a " + dtype + " tensor of shape " + Arrays.toString(shape) + " needs " + needed + " bytes, got "
                            + data.length);
        }
        this.data = data;
    }

    /** Wraps bytes this package has just read and hands to nobody else (not copied). */
    static Tensor wrap(DType dtype, long[] shape, byte[] littleEndianData) {
        return new Tensor(dtype, shape, littleEndianData);
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

    /** Writes the raw data to {@code out}. */
    void writeTo(java.io.OutputStream out) throws java.io.IOException {
        out.write(data);
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
                ByteBuffer.allocate(values.length * (target.bitSize() / 8)).order(ByteOrder.LITTLE_ENDIAN);
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

    /**
     * Returns the index of the first element that is NaN or infinite, or -1 if every element is
     * finite (always -1 for integer types and for the 4- and 6-bit types, which encode neither).
     */
    public long firstNonFinite() {
        ByteBuffer b = bytes();
        int n = data.length;
        switch (dtype) {
            case F32:
            case C64:
                for (int i = 0; i < n; i += 4) {
                    if ((b.getInt(i) & 0x7f800000) == 0x7f800000) {
                        return dtype == DType.C64 ? i / 8 : i / 4;
                    }
                }
                return -1;
            case F64:
                for (int i = 0; i < n; i += 8) {
                    if ((b.getLong(i) & 0x7ff0000000000000L) == 0x7ff0000000000000L) {
                        return i / 8;
                    }
                }
                return -1;
            case F16:
            case BF16:
                int mask = dtype == DType.F16 ? 0x7c00 : 0x7f80;
                for (int i = 0; i < n; i += 2) {
                    if ((b.getShort(i) & mask) == mask) {
                        return i / 2;
                    }
                }
                return -1;
            case F8_E5M2:
            case F8_E4M3:
            case F8_E4M3FNUZ:
            case F8_E5M2FNUZ:
            case F8_E8M0:
                for (int i = 0; i < n; i++) {
                    if (isNonFiniteFp8(dtype, data[i] & 0xff)) {
                        return i;
                    }
                }
                return -1;
            default:
                return -1;
        }
    }

    /** The FP8 encodings of NaN and infinity (E5M2 has both; the others only NaN). */
    private static boolean isNonFiniteFp8(DType type, int bits) {
        switch (type) {
            case F8_E5M2:
                return (bits & 0x7c) == 0x7c;
            case F8_E4M3:
                return (bits & 0x7f) == 0x7f;
            case F8_E8M0:
                return bits == 0xff;
            default: // the FNUZ variants: negative zero's bit pattern is their only NaN
                return bits == 0x80;
        }
    }

    /**
     * Returns the number of elements a shape holds. A zero anywhere gives zero, whatever the other
     * dimensions are.
     *
     * @throws IllegalArgumentException if a dimension is negative
     * @throws ArithmeticException if the count does not fit in a long
     */
    static long elementCount(long[] shape) {
        long count = 1;
        boolean empty = false;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            empty |= d == 0;
        }
        if (empty) {
            return 0;
        }
        for (long d : shape) {
            count = Math.multiplyExact(count, d);
        }
        return count;
    }

    /**
     * Returns the bytes a tensor of this type and shape takes, computed as the reference
     * implementation's {@code Metadata::validate} does (safetensors/src/tensor.rs, lines 642-662 at
     * commit 24b0b28): the dimensions multiplied in order as unsigned 64-bit numbers, then by the
     * element's bits, each step checked for overflow, and the bits a whole number of bytes.
     *
     * @throws ArithmeticException if a product overflows 64 bits, or the bits are not whole bytes
     */
    static long byteCount(DType dtype, long[] shape) {
        long elements = 1;
        for (long d : shape) {
            elements = multiplyUnsigned(elements, d, shape);
        }
        long bits = multiplyUnsigned(elements, dtype.bitSize(), shape);
        if (Long.remainderUnsigned(bits, 8) != 0) {
            throw new ArithmeticException("a " + dtype + " tensor of shape " + Arrays.toString(shape)
                    + " does not end on a byte boundary (" + Long.toUnsignedString(bits) + " bits)");
        }
        long bytes = Long.divideUnsigned(bits, 8);
        if (bytes < 0) {
            throw new ArithmeticException("shape " + Arrays.toString(shape) + " is too large");
        }
        return bytes;
    }

    private static long multiplyUnsigned(long a, long b, long[] shape) {
        if (b < 0 || a != 0 && Long.compareUnsigned(b, Long.divideUnsigned(-1L, a)) > 0) {
            throw new ArithmeticException("shape " + Arrays.toString(shape) + " overflows 64 bits");
        }
        return a * b;
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
