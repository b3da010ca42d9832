package org.peft4j.api.lora.algebra;

import java.util.Arrays;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

/**
 * A LoRA checkpoint's tensors sorted out by module: the A and B matrices of each targeted module
 * (keys {@code base_model.model.<path>.lora_A.weight} and {@code .lora_B.weight}), and every other
 * tensor (modules saved whole, trained biases) under its own key.
 *
 * @param source names the checkpoint in messages
 * @param config the checkpoint's LoRA config
 * @param pairs the A [r, in] and B [out, r] of each module path, sorted by path
 * @param others the tensors that are not LoRA matrices, by key
 */
record LoraModules(String source, LoraConfig config, Map<String, Pair> pairs, Map<String, Tensor> others) {
    /** The prefix of every LoRA-style key (PEFT's {@code base_model.model.}). */
    static final String KEY_PREFIX = "base_model.model.";
    private static final String A_SUFFIX = ".lora_A.weight";
    private static final String B_SUFFIX = ".lora_B.weight";

    /**
     * One module's LoRA matrices.
     *
     * @param a the down projection A [r, in]
     * @param b the up projection B [out, r]
     */
    record Pair(Tensor a, Tensor b) {}

    /** Returns the key of module {@code path}'s A matrix. */
    static String aKey(String path) {
        return KEY_PREFIX + path + A_SUFFIX;
    }

    /** Returns the key of module {@code path}'s B matrix. */
    static String bKey(String path) {
        return KEY_PREFIX + path + B_SUFFIX;
    }

    /**
     * Sorts a LoRA checkpoint's tensors out by module.
     *
     * @param source names the checkpoint in messages (an adapter's name or directory)
     * @throws IllegalArgumentException if the checkpoint is not LoRA, holds DoRA or embedding LoRA
     *     tensors, a module lacks A or B, or their shapes do not fit together
     */
    static LoraModules of(String source, AdapterCheckpoint checkpoint) {
        PeftConfig config = checkpoint.config();
        if (!(config instanceof LoraConfig lora)) {
            throw new IllegalArgumentException(source + ": expected a LoRA adapter, got peft_type " + config.peftType());
        }
        Map<String, Tensor> as = new TreeMap<>();
        Map<String, Tensor> bs = new TreeMap<>();
        Map<String, Tensor> others = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : checkpoint.tensors().entrySet()) {
            String key = e.getKey();
            if (key.startsWith(KEY_PREFIX) && key.endsWith(A_SUFFIX)) {
                as.put(key.substring(KEY_PREFIX.length(), key.length() - A_SUFFIX.length()), e.getValue());
            } else if (key.startsWith(KEY_PREFIX) && key.endsWith(B_SUFFIX)) {
                bs.put(key.substring(KEY_PREFIX.length(), key.length() - B_SUFFIX.length()), e.getValue());
            } else if (key.contains(".lora_")) {
                throw new IllegalArgumentException(source + ": tensor " + Excerpt.quote(key)
                        + " is not a plain LoRA matrix (DoRA magnitudes and embedding LoRA cannot be combined or resized)");
            } else {
                others.put(key, e.getValue());
            }
        }
        if (!as.keySet().equals(bs.keySet())) {
            Map<String, Tensor> onlyOne = new TreeMap<>(as);
            onlyOne.keySet().removeAll(bs.keySet());
            String path = onlyOne.isEmpty() ? bs.keySet().stream().filter(p -> !as.containsKey(p)).findFirst().orElseThrow()
                    : onlyOne.keySet().iterator().next();
            throw new IllegalArgumentException(source + ": module " + Excerpt.quote(path)
                    + " has only one of lora_A.weight and lora_B.weight");
        }
        if (as.isEmpty()) {
            throw new IllegalArgumentException(source + ": the adapter holds no LoRA matrices (keys ending in "
                    + A_SUFFIX + ")");
        }
        Map<String, Pair> pairs = new TreeMap<>();
        for (String path : as.keySet()) {
            Tensor a = as.get(path);
            Tensor b = bs.get(path);
            long[] sa = a.shape();
            long[] sb = b.shape();
            if (sa.length != 2 || sb.length != 2 || sa[0] != sb[1] || !a.dtype().isFloatingPoint()
                    || !b.dtype().isFloatingPoint()) {
                throw new IllegalArgumentException(source + ": module " + Excerpt.quote(path)
                        + " has lora_A " + a.dtype() + Arrays.toString(sa) + " and lora_B " + b.dtype() + Arrays.toString(sb)
                        + "; expected floating-point A [r, in] and B [out, r] with the same r");
            }
            pairs.put(path, new Pair(a, b));
        }
        return new LoraModules(source, lora, Collections.unmodifiableMap(pairs), Collections.unmodifiableMap(others));
    }

    /** Returns the largest rank the config gives any module: r, or a larger rank_pattern value (as PEFT counts it). */
    int maxConfiguredRank() {
        int max = config.r();
        for (int r : config.rankPattern().values()) {
            max = Math.max(max, r);
        }
        return max;
    }
}
