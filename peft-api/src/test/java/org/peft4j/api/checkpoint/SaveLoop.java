package org.peft4j.api.checkpoint;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.peft4j.api.io.ConcurrentWriteException;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

/**
 * The child process of the crash and concurrency tests: saves adapters into one directory, one
 * after another, until it is killed or has saved {@code count} of them. Adapter number k has
 * {@code lora_alpha} k and every weight equal to k, so a reader can tell a config from one save
 * paired with weights from another. Prints "saved k" after each save and "locked k" when another
 * writer held the directory.
 */
public final class SaveLoop {
    private SaveLoop() {}

    /** The adapter number {@code k}: alpha k, every weight k, 16 KiB of weights. */
    static AdapterCheckpoint adapter(long k) {
        float[] a = new float[2 * 1024];
        float[] b = new float[1024 * 2];
        Arrays.fill(a, k);
        Arrays.fill(b, k);
        return new AdapterCheckpoint(LoraConfig.builder().optR(2).optLoraAlpha(k).setTargetModules("q").build(),
                Map.of("base_model.model.q.lora_A.weight", Tensor.ofFloats(new long[] {2, 1024}, a),
                        "base_model.model.q.lora_B.weight", Tensor.ofFloats(new long[] {1024, 2}, b)));
    }

    /**
     * Returns the adapter number a loaded checkpoint carries, after checking that its config and
     * every weight carry the same one.
     *
     * @throws AssertionError if they do not: a torn save
     */
    static long numberOf(AdapterCheckpoint loaded) {
        float alpha = ((LoraConfig) loaded.config()).loraAlpha();
        for (Tensor t : loaded.tensors().values()) {
            for (float v : t.toFloatArray()) {
                if (v != alpha) {
                    throw new AssertionError("torn adapter: lora_alpha " + alpha + " with a weight of " + v);
                }
            }
        }
        return (long) alpha;
    }

    /** Arguments: directory, first k, step between ks, number of saves (0: until killed). */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long k = Long.parseLong(args[1]);
        long step = Long.parseLong(args[2]);
        long count = Long.parseLong(args[3]);
        for (long i = 0; count == 0 || i < count; i++, k += step) {
            try {
                adapter(k).save(dir);
                System.out.println("saved " + k);
            } catch (ConcurrentWriteException e) {
                System.out.println("locked " + k);
            }
        }
    }
}
