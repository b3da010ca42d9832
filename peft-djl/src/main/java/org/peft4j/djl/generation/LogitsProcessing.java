package org.peft4j.djl.generation;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;

/**
 * The next-token scores of one row, as transformers' logits processors change them, and the choice
 * of the token. {@link #process} applies them in the order of
 * {@code GenerationMixin._get_logits_processor} ({@code transformers/generation/utils.py} 5.18:
 * the repetition penalty at line 1453, always; then, only when sampling, the temperature at line
 * 1590, top-k at 1595 and top-p at 1599). Each step below is one processor of
 * {@code generation/logits_process.py}, in float32 as there. Removed tokens get negative infinity.
 */
public final class LogitsProcessing {
    private LogitsProcessing() {}

    /**
     * Returns the scores the token is chosen from: {@code logits} (not changed) after every
     * processor {@code config} enables, in transformers' order.
     *
     * @param sequence the row's tokens so far, prompt and left padding included (transformers'
     *     {@code input_ids}); its first {@code length} entries are read
     */
    public static float[] process(GenerationConfig config, float[] logits, long[] sequence, int length) {
        float[] scores = logits.clone();
        if (config.repetitionPenalty() != 1.0) {
            repetitionPenalty(scores, sequence, length, config.repetitionPenalty());
        }
        if (config.doSample()) {
            if (config.temperature() != 1.0) {
                temperature(scores, config.temperature());
            }
            if (config.topK() != 0) {
                topK(scores, config.topK());
            }
            if (config.topP() < 1.0) {
                topP(scores, config.topP());
            }
        }
        return scores;
    }

    /**
     * {@code RepetitionPenaltyLogitsProcessor} (logits_process.py line 419): the score of every
     * distinct token among {@code sequence[0, length)} is multiplied by {@code penalty} if negative
     * and divided by it otherwise, once however often the token occurs. Ids beyond the scores are
     * skipped.
     */
    public static void repetitionPenalty(float[] scores, long[] sequence, int length, double penalty) {
        float p = (float) penalty;
        BitSet seen = new BitSet(scores.length);
        for (int i = 0; i < length; i++) {
            long id = sequence[i];
            if (id >= 0 && id < scores.length && !seen.get((int) id)) {
                seen.set((int) id);
                float s = scores[(int) id];
                scores[(int) id] = s < 0 ? s * p : s / p;
            }
        }
    }

    /** {@code TemperatureLogitsWarper} (logits_process.py line 302): every score divided by {@code temperature}. */
    public static void temperature(float[] scores, double temperature) {
        float t = (float) temperature;
        for (int i = 0; i < scores.length; i++) {
            scores[i] = scores[i] / t;
        }
    }

    /**
     * {@code TopKLogitsWarper} (logits_process.py line 604): removes every score below the
     * {@code k}-th highest (so tokens tied with it stay); {@code k} above the vocabulary keeps all.
     */
    public static void topK(float[] scores, int k) {
        if (k <= 0) {
            throw new IllegalArgumentException("top_k must be positive here, got " + k);
        }
        if (k >= scores.length) {
            return;
        }
        float[] sorted = scores.clone();
        Arrays.sort(sorted);
        float threshold = sorted[sorted.length - k];
        for (int i = 0; i < scores.length; i++) {
            if (scores[i] < threshold) {
                scores[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /**
     * {@code TopPLogitsWarper} (logits_process.py line 543): keeps the smallest set of the most
     * probable tokens whose probabilities (softmax of the scores) add up to {@code p} or more, and
     * always the most probable one. Sorted ascending, a token is removed when the cumulative
     * probability up to and including it is at most {@code 1 - p}. Among tokens with equal scores,
     * the one with the lower id counts as less probable.
     */
    public static void topP(float[] scores, double p) {
        Integer[] order = new Integer[scores.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(scores[a], scores[b]));
        double[] probabilities = softmax(scores);
        float cutoff = (float) (1 - p);
        double cumulative = 0;
        for (int rank = 0; rank < order.length - 1; rank++) {
            cumulative += probabilities[order[rank]];
            if (cumulative <= cutoff) {
                scores[order[rank]] = Float.NEGATIVE_INFINITY;
            } else {
                break;
            }
        }
    }

    /** Returns softmax(scores) in double precision; negative infinity gets probability 0. */
    public static double[] softmax(float[] scores) {
        double max = Double.NEGATIVE_INFINITY;
        for (float s : scores) {
            max = Math.max(max, s);
        }
        if (max == Double.NEGATIVE_INFINITY || Double.isNaN(max)) {
            throw new IllegalArgumentException("no token has a finite score: " + Arrays.toString(
                    Arrays.copyOf(scores, Math.min(scores.length, 8))) + (scores.length > 8 ? " ..." : ""));
        }
        double[] probabilities = new double[scores.length];
        double sum = 0;
        for (int i = 0; i < scores.length; i++) {
            probabilities[i] = Math.exp(scores[i] - max);
            sum += probabilities[i];
        }
        for (int i = 0; i < scores.length; i++) {
            probabilities[i] /= sum;
        }
        return probabilities;
    }

    /** Returns the token with the highest score, the lowest id among equals ({@code torch.argmax}, utils.py line 3247). */
    public static int argMax(float[] scores) {
        int best = 0;
        for (int i = 1; i < scores.length; i++) {
            if (scores[i] > scores[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Draws a token from softmax(scores) ({@code torch.multinomial} of the probabilities, utils.py
     * line 3245) with one uniform number from {@code random}; removed tokens are never drawn.
     */
    public static int sample(float[] scores, Random random) {
        double[] probabilities = softmax(scores);
        double u = random.nextDouble();
        double cumulative = 0;
        int last = -1;
        for (int i = 0; i < probabilities.length; i++) {
            if (probabilities[i] > 0) {
                cumulative += probabilities[i];
                last = i;
                if (u < cumulative) {
                    return i;
                }
            }
        }
        return last;
    }
}
