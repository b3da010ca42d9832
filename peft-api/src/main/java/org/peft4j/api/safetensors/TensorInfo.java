package org.peft4j.api.safetensors;

import java.util.Arrays;

/**
 * What a safetensors header says about one tensor: its name, element type, shape and where its
 * bytes lie in the data buffer ({@code data_offsets}, relative to the end of the header).
 */
public final class TensorInfo {
    private final String name;
    private final DType dtype;
    private final long[] shape;
    private final long begin;
    private final long end;

    TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape;
        this.begin = begin;
        this.end = end;
    }

    /** Returns the tensor's name, the header key. */
    public String name() {
        return name;
    }

    /** Returns the element type. */
    public DType dtype() {
        return dtype;
    }

    /** Returns a copy of the shape. */
    public long[] shape() {
        return shape.clone();
    }

    /** Returns the first byte of the tensor in the data buffer. */
    public long begin() {
        return begin;
    }

    /** Returns the byte after the tensor's last in the data buffer. */
    public long end() {
        return end;
    }

    /** Returns the number of data bytes, {@code end - begin}. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public String toString() {
        return "TensorInfo[" + dtype + " " + Arrays.toString(shape) + " at [" + begin + ", " + end + ")]";
    }
}
