package org.peft4j.djl.generation;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.KeyValueCache;

/**
 * Generates tokens with any {@link CausalLanguageModel}, as transformers' {@code generate()} does
 * for a decoder-only model without beams ({@code GenerationMixin._sample},
 * {@code transformers/generation/utils.py} 5.18):
 *
 * <ul>
 *   <li>Prompts of different lengths are padded on the left with the padding token; the attention
 *       mask hides the padding, and position ids count real tokens only: cumsum(mask) - 1, padding
 *       at 0 (utils.py line 900), each new token one past the last (line 1263).
 *   <li>The prompt is read once; with the key/value cache (the default) each later step feeds only
 *       the newest token. Each step runs in its own {@link NDManager} scope that is closed at once,
 *       and the cache moves to a fresh scope while the previous one (holding the cache's shorter
 *       arrays) is closed, so memory does not grow with the steps beyond the cache itself.
 *   <li>The scores of the last position go through {@link LogitsProcessing#process} (repetition
 *       penalty, then when sampling temperature, top-k and top-p); the token is the highest score
 *       or a draw from their softmax. As in transformers, the repetition penalty counts every
 *       token of the row, its left padding included (so with a penalty, a padded row may differ
 *       from its prompt run alone).
 *   <li>A row stops at any of the end-of-sequence tokens and from then on emits the padding token
 *       (line 3251); generation ends when every row has stopped or after {@code max_new_tokens}.
 * </ul>
 *
 * <p>Sampling draws from {@link Random}, seeded by the config's seed when it has one: a seed gives
 * the same tokens every run (not the tokens PyTorch's generator would draw).
 */
public final class Generator {
    private final CausalLanguageModel model;
    private final GenerationConfig config;

    /** A generator of {@code model}'s tokens with the given settings. */
    public Generator(CausalLanguageModel model, GenerationConfig config) {
        this.model = model;
        this.config = config;
    }

    /** Returns the settings. */
    public GenerationConfig config() {
        return config;
    }

    /**
     * Returns the new tokens that follow one prompt (at most {@code max_new_tokens}, the
     * end-of-sequence token included when one was reached).
     *
     * @param manager the manager the step scopes open under; nothing stays attached to it
     */
    public long[] generate(NDManager manager, long[] prompt) {
        return generate(manager, List.of(prompt), null)[0];
    }

    /** Returns the new tokens that follow one prompt, handing each to {@code listener} as it is chosen. */
    public long[] generate(NDManager manager, long[] prompt, TokenListener listener) {
        return generate(manager, List.of(prompt), listener)[0];
    }

    /**
     * Returns the new tokens of each prompt, a batch run together; see
     * {@link #generate(NDManager, List, TokenListener)}.
     */
    public long[][] generate(NDManager manager, List<long[]> prompts) {
        return generate(manager, prompts, null);
    }

    /**
     * Returns the new tokens of each prompt, all rows as long as the longest (rows that stopped
     * earlier continue with the padding token, as transformers' output does), and reports each
     * token to {@code listener} as it is chosen.
     *
     * @param prompts the token ids of each prompt, not padded
     * @param listener receives each row's tokens while they are generated; null for none
     * @throws IllegalArgumentException if a prompt is empty or holds an id outside the vocabulary,
     *     the padding token is outside it, or prompts of different lengths come without a padding
     *     token (pad_token_id or eos_token_id)
     */
    public long[][] generate(NDManager manager, List<long[]> prompts, TokenListener listener) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompt to generate from");
        }
        int batch = prompts.size();
        int promptLength = 0;
        for (int b = 0; b < batch; b++) {
            long[] prompt = prompts.get(b);
            if (prompt.length == 0) {
                throw new IllegalArgumentException("prompt " + b + " is empty; generation needs at least one token");
            }
            for (long id : prompt) {
                if (id < 0 || id >= model.vocabSize()) {
                    throw new IllegalArgumentException("prompt " + b + " holds token id " + id + ", outside the "
                            + model.modelType() + " vocabulary of " + model.vocabSize());
                }
            }
            promptLength = Math.max(promptLength, prompt.length);
        }
        Long padId = padTokenId();
        if (padId != null && padId >= model.vocabSize()) {
            throw new IllegalArgumentException("the padding token " + padId + " (pad_token_id, else the first"
                    + " eos_token_id) is outside the " + model.modelType() + " vocabulary of " + model.vocabSize());
        }
        boolean padded = false;
        for (long[] prompt : prompts) {
            padded |= prompt.length < promptLength;
        }
        if (padded && padId == null) {
            throw new IllegalArgumentException("prompts of different lengths are left-padded, which needs a"
                    + " pad_token_id (or an eos_token_id) in the GenerationConfig");
        }
        int maxNew = config.maxNewTokens();
        long[][] sequences = new long[batch][promptLength + maxNew];
        int[] start = new int[batch];
        for (int b = 0; b < batch; b++) {
            long[] prompt = prompts.get(b);
            start[b] = promptLength - prompt.length;
            Arrays.fill(sequences[b], 0, start[b], padded ? padId : 0);
            System.arraycopy(prompt, 0, sequences[b], start[b], prompt.length);
        }
        Set<Long> eos = new HashSet<>(config.eosTokenIds());
        boolean[] finished = new boolean[batch];
        Random random = config.doSample()
                ? (config.seed().isPresent() ? new Random(config.seed().getAsLong()) : new Random()) : null;

        int length = promptLength;
        int steps = 0;
        KeyValueCache cache = config.useCache() ? new KeyValueCache(model.numLayers()) : null;
        NDManager cacheScope = manager.newSubManager();
        try {
            ParameterStore ps = new ParameterStore(manager, false);
            while (steps < maxNew) {
                float[] last;
                try (NDManager step = manager.newSubManager()) {
                    int from = cache == null || steps == 0 ? 0 : length - 1;
                    last = lastLogits(step, ps, sequences, start, from, length, padded, cache);
                    if (cache != null) {
                        NDManager next = manager.newSubManager();
                        cache.attach(next);
                        cacheScope.close();
                        cacheScope = next;
                    }
                }
                int vocab = last.length / batch;
                boolean allFinished = !eos.isEmpty();
                for (int b = 0; b < batch; b++) {
                    long token;
                    if (finished[b]) {
                        token = padId;
                    } else {
                        float[] logits = Arrays.copyOfRange(last, b * vocab, (b + 1) * vocab);
                        float[] scores = LogitsProcessing.process(config, logits, sequences[b], length);
                        token = random == null ? LogitsProcessing.argMax(scores) : LogitsProcessing.sample(scores, random);
                        if (listener != null) {
                            listener.onToken(b, token);
                        }
                        finished[b] = eos.contains(token);
                    }
                    sequences[b][length] = token;
                    allFinished &= finished[b];
                }
                length++;
                steps++;
                if (allFinished) {
                    break;
                }
            }
        } finally {
            cacheScope.close();
        }
        long[][] generated = new long[batch][];
        for (int b = 0; b < batch; b++) {
            generated[b] = Arrays.copyOfRange(sequences[b], promptLength, promptLength + steps);
        }
        return generated;
    }

    /** transformers' fallback: the padding token, else the first end-of-sequence token (utils.py line 2380). */
    private Long padTokenId() {
        if (config.padTokenId().isPresent()) {
            return config.padTokenId().getAsLong();
        }
        return config.eosTokenIds().isEmpty() ? null : config.eosTokenIds().get(0);
    }

    /**
     * Runs the model on positions [from, length) of the sequences (after the cached ones) and
     * returns the logits of the last position, [batch · vocab] in row order.
     */
    private float[] lastLogits(NDManager step, ParameterStore ps, long[][] sequences, int[] start, int from,
            int length, boolean padded, KeyValueCache cache) {
        int batch = sequences.length;
        int fed = length - from;
        long[] ids = new long[batch * fed];
        long[] positions = new long[batch * fed];
        long[] mask = padded ? new long[batch * length] : null;
        for (int b = 0; b < batch; b++) {
            for (int t = from; t < length; t++) {
                ids[b * fed + t - from] = sequences[b][t];
                positions[b * fed + t - from] = t < start[b] ? 0 : t - start[b];
            }
            if (padded) {
                Arrays.fill(mask, b * length + start[b], (b + 1) * length, 1L);
            }
        }
        NDArray logits = model.logits(ps, step.create(ids, new Shape(batch, fed)),
                padded ? step.create(mask, new Shape(batch, length)) : null,
                step.create(positions, new Shape(batch, fed)), cache, false);
        return logits.get(new NDIndex(":, -1, :")).toType(DataType.FLOAT32, false).toFloatArray();
    }
}
