package org.peft4j.djl.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * Scalar constants for operations that autograd records. DJL's {@code x.mul(2f)} wraps the number
 * in a temporary array whose memory is a Java direct buffer, closes that array right after the
 * operation, and leaves the buffer to the garbage collector; PyTorch's autograd has meanwhile saved
 * the scalar for the backward pass, which then reads freed memory (NaN losses that appear only when
 * a collection happens mid-step). A scalar from here lives in memory PyTorch owns.
 */
public final class NativeScalars {
    private NativeScalars() {}

    /** Returns a scalar array holding {@code value} in PyTorch-owned memory, attached to {@code manager}. */
    public static NDArray of(NDManager manager, float value) {
        try (NDArray javaBacked = manager.create(value)) {
            return javaBacked.duplicate();
        }
    }
}
