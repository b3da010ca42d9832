package org.peft4j.api.safetensors;

import java.util.Arrays;

/**
 * The element types of the safetensors format, by the names its header uses ({@code "F32"},
 * {@code "BF16"}, ...), with the size of one element in bytes.
 */
public enum DType {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E4M3(1),
    F8_E5M2(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    F64(8),
    I64(8),
    U64(8);

    private final int byteSize;

    DType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Returns the number of bytes one element of this type takes. */
    public int byteSize() {
        return byteSize;
    }

    /** Returns whether {@link Tensor#toFloatArray()} can convert this type. */
    public boolean isFloatingPoint() {
        return this == F16 || this == BF16 || this == F32 || this == F64;
    }

    /**
     * Returns the type a safetensors header names.
     *
     * @param name the header's {@code dtype} value, such as {@code "F32"}
     * @throws SafeTensorsFormatException if the name is not a safetensors type
     */
    public static DType fromHeaderName(String name) {
        for (DType type : values()) {
            if (type.name().equals(name)) {
                return type;
            }
        }
        throw new SafeTensorsFormatException(
                "unknown dtype \"" + name + "\"; expected one of " + Arrays.toString(values()));
    }
}
