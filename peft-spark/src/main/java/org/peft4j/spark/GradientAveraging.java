package org.peft4j.spark;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Parameter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.zip.CRC32;
import org.peft4j.djl.train.DataParallel;

/**
 * One replica's side of data-parallel training over a {@link RingAllReduce}: with
 * {@code syncEvery} 1, the adapter's gradients are averaged before every optimizer step, so every
 * replica takes the same step on the gradient of the whole global batch and the replicas stay
 * identical; with {@code syncEvery} K > 1, each replica steps on its own gradients and the weights
 * are averaged every K updates (local SGD, a different algorithm, for slow networks; the
 * optimizers' moments stay each replica's own). Every {@code checksumEvery} updates the replicas
 * compare a checksum of their trainable weights and fail, naming the replicas that differ, if they
 * are not identical when they should be.
 *
 * <p>Replicas that share a JVM (Spark's local mode, or several task slots per executor) compute one
 * at a time: a replica holds {@link #JVM_WIDE} while it loads, trains and scores, and lets go of it
 * only while it waits for the others in the all-reduce, as DJL allows one gradient collector per
 * JVM (and on two cores two replicas side by side gain nothing); on a cluster with one task per
 * executor the lock is never contended.
 */
final class GradientAveraging implements DataParallel {
    /** Held by the replica that computes in this JVM; released only around the all-reduce. */
    static final ReentrantLock JVM_WIDE = new ReentrantLock(true);

    private final RingAllReduce ring;
    private final int syncEvery;
    private final int checksumEvery;
    private final int failAfterUpdate;
    private final boolean killJvm;
    private final List<Float> losses = new ArrayList<>();
    private double updateLoss;
    private int updateBatches;
    private long allReduceNanos;
    private long computeNanos;
    private long lastMark = System.nanoTime();
    private DriverProgress.Reporter reporter;

    /**
     * A replica's averaging over {@code ring}.
     *
     * @param failAfterUpdate for tests of Spark's retries: fail after this update (0: never)
     * @param killJvm for those tests: fail by halting this JVM (an executor that dies) rather than by an exception
     */
    GradientAveraging(RingAllReduce ring, int syncEvery, int checksumEvery, int failAfterUpdate, boolean killJvm) {
        this.ring = ring;
        this.syncEvery = syncEvery;
        this.checksumEvery = checksumEvery;
        this.failAfterUpdate = failAfterUpdate;
        this.killJvm = killJvm;
    }

    @Override
    public float forwardBackward(Supplier<Float> pass) {
        float loss = pass.get();
        updateLoss += loss;
        updateBatches++;
        return loss;
    }

    @Override
    public void beforeStep(List<Parameter> trainable, int update) {
        losses.add((float) (updateLoss / updateBatches));
        updateLoss = 0;
        updateBatches = 0;
        if (syncEvery == 1) {
            averageInPlace(trainable, true);
        }
    }

    /** Reports every update (with this replica's loss) to {@code reporter}. */
    void reportTo(DriverProgress.Reporter reporter) {
        this.reporter = reporter;
    }

    @Override
    public void afterStep(List<Parameter> trainable, int update) {
        if (reporter != null) {
            reporter.update(update, losses.get(losses.size() - 1));
        }
        if (update == failAfterUpdate) {
            if (killJvm) {
                Runtime.getRuntime().halt(57);
            }
            throw new IllegalStateException("injected failure of replica " + ring.rank() + " after update " + update);
        }
        if (syncEvery > 1 && update % syncEvery == 0) {
            averageInPlace(trainable, false);
        }
        if (checksumEvery > 0 && update % checksumEvery == 0 && (syncEvery == 1 || update % syncEvery == 0)) {
            requireIdentical(trainable, update);
        }
    }

    /** Averages the weights once more if the last update was not a synchronising one (local SGD's end). */
    void finish(List<Parameter> trainable, int updates) {
        if (syncEvery > 1 && updates % syncEvery != 0) {
            averageInPlace(trainable, false);
        }
        requireIdentical(trainable, updates);
    }

    /** Takes the losses of the updates before a saved state, for a replica that resumes from it. */
    void resume(float[] earlierLosses) {
        losses.clear();
        for (float loss : earlierLosses) {
            losses.add(loss);
        }
    }

    /** Returns when every replica has called it (an all-reduce of one number). */
    void barrier() {
        try {
            sumOutsideTheLock(new float[1]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The training loss of each update, averaged over the replicas. */
    float[] meanLosses() {
        float[] out = new float[losses.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = losses.get(i) / ring.size();
        }
        try {
            sumOutsideTheLock(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** Nanoseconds spent in the all-reduce, and outside it (computing), since the start. */
    long[] timings() {
        return new long[] {allReduceNanos, computeNanos + (System.nanoTime() - lastMark)};
    }

    private void averageInPlace(List<Parameter> trainable, boolean gradients) {
        long start = System.nanoTime();
        computeNanos += start - lastMark;
        List<NDArray> arrays = new ArrayList<>(trainable.size());
        int total = 0;
        for (Parameter p : trainable) {
            // DJL hands out the parameter's own gradient array: never close it (closing it freed the
            // gradient twice, and glibc aborted with "corrupted double-linked list")
            NDArray array = gradients ? p.getArray().getGradient() : p.getArray();
            arrays.add(array);
            total += (int) array.size();
        }
        float[] flat = new float[total];
        int offset = 0;
        for (NDArray array : arrays) {
            float[] values = array.toFloatArray();
            System.arraycopy(values, 0, flat, offset, values.length);
            offset += values.length;
        }
        try {
            sumOutsideTheLock(flat);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int i = 0; i < flat.length; i++) {
            flat[i] /= ring.size();
        }
        offset = 0;
        for (NDArray array : arrays) {
            int size = (int) array.size();
            array.set(FloatBuffer.wrap(flat, offset, size));
            offset += size;
        }
        lastMark = System.nanoTime();
        allReduceNanos += lastMark - start;
    }

    /** Fails, naming the replicas, if the trainable weights differ between replicas. */
    private void requireIdentical(List<Parameter> trainable, int update) {
        CRC32 crc = new CRC32();
        for (Parameter p : trainable) {
            for (float v : p.getArray().toFloatArray()) {
                int bits = Float.floatToIntBits(v);
                crc.update(new byte[] {(byte) bits, (byte) (bits >> 8), (byte) (bits >> 16), (byte) (bits >> 24)});
            }
        }
        // 24 bits of the checksum, exact in a float, in this replica's slot
        float[] slots = new float[ring.size()];
        slots[ring.rank()] = crc.getValue() & 0xFFFFFF;
        try {
            sumOutsideTheLock(slots);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        for (int r = 1; r < slots.length; r++) {
            if (slots[r] != slots[0]) {
                throw new IllegalStateException("replica " + r + " holds other adapter weights than replica 0 after"
                        + " update " + update + " (checksums " + (long) slots[0] + " and " + (long) slots[r] + "); the"
                        + " replicas diverged, so no adapter is returned");
            }
        }
    }

    /** Sums {@code data} over the ring, letting the other replicas of this JVM compute meanwhile. */
    private void sumOutsideTheLock(float[] data) throws IOException {
        boolean held = JVM_WIDE.isHeldByCurrentThread();
        if (held) {
            JVM_WIDE.unlock();
        }
        try {
            ring.sumInPlace(data);
        } finally {
            if (held) {
                JVM_WIDE.lock();
            }
        }
    }
}
