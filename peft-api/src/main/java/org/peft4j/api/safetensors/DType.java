package org.peft4j.api.safetensors;

import java.util.Arrays;
import org.peft4j.api.internal.Excerpt;

/**
 * The element types of the safetensors format, by the names its header uses ({@code "F32"},
 * {@code "BF16"}, ...), with the size of one element in bits. The list and the sizes are those of
 * the reference implementation's {@code Dtype} and {@code Dtype::bitsize}
 * (huggingface/safetensors, safetensors/src/tensor.rs, lines 811-895 at commit 24b0b28), so that
 * every type it reads is read here too; the 4- and 6-bit microscaling types pack several elements
 * into a byte.
 */
public enum DType {
    /** Boolean, one byte. */
    BOOL(8),
    /** MXFP4 (OCP microscaling), 4 bits. */
    F4(4),
    /** MXFP6 E2M3 (OCP microscaling), 6 bits. */
    F6_E2M3(6),
    /** MXFP6 E3M2 (OCP microscaling), 6 bits. */
    F6_E3M2(6),
    /** Unsigned byte. */
    U8(8),
    /** Signed byte. */
    I8(8),
    /** FP8 E5M2. */
    F8_E5M2(8),
    /** FP8 E4M3 (the "FN" variant without infinities). */
    F8_E4M3(8),
    /** FP8 E8M0 (a power-of-two scale). */
    F8_E8M0(8),
    /** FP8 E4M3, FNUZ variant. */
    F8_E4M3FNUZ(8),
    /** FP8 E5M2, FNUZ variant. */
    F8_E5M2FNUZ(8),
    /** Signed 16-bit integer. */
    I16(16),
    /** Unsigned 16-bit integer. */
    U16(16),
    /** IEEE half precision. */
    F16(16),
    /** bfloat16. */
    BF16(16),
    /** Signed 32-bit integer. */
    I32(32),
    /** Unsigned 32-bit integer. */
    U32(32),
    /** IEEE single precision. */
    F32(32),
    /** Complex number of two F32 parts. */
    C64(64),
    /** IEEE double precision. */
    F64(64),
    /** Signed 64-bit integer. */
    I64(64),
    /** Unsigned 64-bit integer. */
    U64(64);

    private final int bitSize;

    DType(int bitSize) {
        this.bitSize = bitSize;
    }

    /** Returns the number of bits one element of this type takes. */
    public int bitSize() {
        return bitSize;
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
                "unknown dtype " + Excerpt.quote(name) + "; expected one of " + Arrays.toString(values()));
    }
}
