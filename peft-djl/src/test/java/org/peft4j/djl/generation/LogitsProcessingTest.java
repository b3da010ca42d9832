package org.peft4j.djl.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/**
 * Each logits processor on hand-made scores, against its definition written out here (as the
 * transformers 5.18 processor defines it), and the chain in transformers' order.
 */
class LogitsProcessingTest {
    private static final float INF = Float.NEGATIVE_INFINITY;

    @Test
    void repetitionPenaltyDividesPositiveAndMultipliesNegativeScoresOfTokensSeenOnce() {
        float[] scores = {2.0f, -1.0f, 0.5f, -3.0f, 0.0f};
        // token 1 occurs twice but is penalized once; 9 is beyond the vocabulary; the last entry is not read
        long[] sequence = {0, 1, 1, 4, 9, 3};
        LogitsProcessing.repetitionPenalty(scores, sequence, 5, 2.0);
        assertThat(scores).containsExactly(1.0f, -2.0f, 0.5f, -3.0f, 0.0f);

        float[] rewarded = {2.0f, -1.0f, 0.5f};
        LogitsProcessing.repetitionPenalty(rewarded, new long[] {0, 1}, 2, 0.5);
        assertThat(rewarded).containsExactly(4.0f, -0.5f, 0.5f);
    }

    @Test
    void temperatureDividesEveryScore() {
        float[] scores = {1f, -2f, 0.5f, INF};
        LogitsProcessing.temperature(scores, 0.5);
        assertThat(scores).containsExactly(2f, -4f, 1f, INF);
    }

    @Test
    void topKKeepsTheKHighestAndEveryTokenTiedWithTheKth() {
        float[] scores = {1f, 3f, 3f, 2f, 0f};
        LogitsProcessing.topK(scores, 2);
        assertThat(scores).containsExactly(INF, 3f, 3f, INF, INF);

        float[] three = {1f, 3f, 3f, 2f, 0f};
        LogitsProcessing.topK(three, 3);
        assertThat(three).containsExactly(INF, 3f, 3f, 2f, INF);

        float[] ties = {1f, 2f, 2f, 2f};
        LogitsProcessing.topK(ties, 2);
        assertThat(ties).containsExactly(INF, 2f, 2f, 2f);

        float[] all = {1f, 2f};
        LogitsProcessing.topK(all, 5);
        assertThat(all).containsExactly(1f, 2f);
    }

    @Test
    void topPKeepsTheSmallestSetWhoseProbabilityReachesP() {
        float[] logits = logOf(0.5, 0.3, 0.15, 0.05);
        assertThat(kept(logits, 0.75)).containsExactly(true, true, false, false);
        assertThat(kept(logits, 0.45)).containsExactly(true, false, false, false);
        assertThat(kept(logits, 0.9)).containsExactly(true, true, true, false);
        assertThat(kept(logits, 0.97)).containsExactly(true, true, true, true);
        // p = 0 still keeps the most probable token
        assertThat(kept(logits, 0.0)).containsExactly(true, false, false, false);
        // tokens already removed (top-k) have probability 0 and stay removed
        assertThat(kept(new float[] {INF, 1f, INF, 0.5f}, 0.5)).containsExactly(false, true, false, false);
    }

    @Test
    void topPAgreesWithTheDescendingDefinitionOnRandomScores() {
        Random random = new Random(3);
        int checked = 0;
        for (int trial = 0; trial < 500; trial++) {
            float[] logits = new float[2 + random.nextInt(30)];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) (random.nextGaussian() * 2);
            }
            double p = random.nextDouble();
            boolean[] expected = smallestSetReaching(logits, p);
            if (expected == null) {
                continue; // a cumulative sum within 1e-6 of p: float rounding may decide either way
            }
            assertThat(kept(logits, p)).as("logits %s, p %s", Arrays.toString(logits), p).isEqualTo(expected);
            checked++;
        }
        assertThat(checked).isGreaterThan(450);
    }

    @Test
    void processAppliesThePenaltyThenTemperatureTopKAndTopPWhenSampling() {
        float[] logits = {2.0f, -1.0f, 1.5f, 0.4f, -0.2f, 1.0f};
        long[] sequence = {0, 3, 3, 4};
        GenerationConfig sampling = GenerationConfig.builder().optDoSample(true).optRepetitionPenalty(1.3)
                .optTemperature(0.7).optTopK(4).optTopP(0.8).build();
        // written out: penalty on 0, 3, 4; /0.7; top 4 of six; then top-p 0.8 over what is left
        double[] expected = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            double s = logits[i];
            if (i == 0 || i == 3 || i == 4) {
                s = s < 0 ? s * 1.3 : s / 1.3;
            }
            expected[i] = s / 0.7;
        }
        Integer[] byScore = IntStream.range(0, 6).boxed().sorted(Comparator.comparingDouble(i -> -expected[i]))
                .toArray(Integer[]::new);
        boolean[] inTopK = new boolean[6];
        for (int r = 0; r < 4; r++) {
            inTopK[byScore[r]] = true;
        }
        float[] afterTopK = new float[6];
        for (int i = 0; i < 6; i++) {
            afterTopK[i] = inTopK[i] ? (float) expected[i] : INF;
        }
        boolean[] keep = smallestSetReaching(afterTopK, 0.8);
        float[] actual = LogitsProcessing.process(sampling, logits, sequence, sequence.length);
        for (int i = 0; i < 6; i++) {
            if (keep[i]) {
                assertThat((double) actual[i]).as("token %d", i).isCloseTo(expected[i], within(1e-5));
            } else {
                assertThat(actual[i]).as("token %d", i).isEqualTo(INF);
            }
        }
        assertThat(logits[0]).as("the input is not changed").isEqualTo(2.0f);

        // greedy: only the repetition penalty (temperature, top-k and top-p belong to sampling)
        GenerationConfig greedy = GenerationConfig.builder().optRepetitionPenalty(1.3).optTemperature(0.7)
                .optTopK(1).build();
        float[] penalized = LogitsProcessing.process(greedy, logits, sequence, sequence.length);
        for (int i = 0; i < 6; i++) {
            double s = logits[i];
            if (i == 0 || i == 3 || i == 4) {
                s = s < 0 ? s * 1.3 : s / 1.3;
            }
            assertThat((double) penalized[i]).isCloseTo(s, within(1e-5));
        }
    }

    @Test
    void argMaxTakesTheLowestIdAmongEqualScores() {
        assertThat(LogitsProcessing.argMax(new float[] {1f, 3f, 3f, 2f})).isEqualTo(1);
    }

    @Test
    void samplingDrawsInProportionToTheProbabilitiesAndNeverARemovedToken() {
        float[] scores = logOf(0.5, 0.3, 0.2);
        scores = Arrays.copyOf(scores, 4);
        scores[3] = INF;
        Random random = new Random(42);
        int[] counts = new int[4];
        int draws = 20000;
        for (int i = 0; i < draws; i++) {
            counts[LogitsProcessing.sample(scores, random)]++;
        }
        assertThat(counts[0] / (double) draws).isCloseTo(0.5, within(0.015));
        assertThat(counts[1] / (double) draws).isCloseTo(0.3, within(0.015));
        assertThat(counts[2] / (double) draws).isCloseTo(0.2, within(0.015));
        assertThat(counts[3]).isZero();
    }

    private static float[] logOf(double... probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]);
        }
        return logits;
    }

    private static boolean[] kept(float[] logits, double p) {
        float[] scores = logits.clone();
        LogitsProcessing.topP(scores, p);
        boolean[] kept = new boolean[scores.length];
        for (int i = 0; i < scores.length; i++) {
            kept[i] = scores[i] != INF;
        }
        return kept;
    }

    /**
     * The definition: take tokens from the most probable down until their probabilities add up to p
     * or more (at least one); null when a partial sum is too close to p to decide in float.
     */
    private static boolean[] smallestSetReaching(float[] logits, double p) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] probabilities = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            probabilities[i] = Math.exp(logits[i] - max);
            sum += probabilities[i];
        }
        Integer[] order = IntStream.range(0, logits.length).boxed()
                .sorted(Comparator.comparingDouble(i -> -logits[i])).toArray(Integer[]::new);
        boolean[] keep = new boolean[logits.length];
        double cumulative = 0;
        for (Integer token : order) {
            if (probabilities[token] == 0) {
                break;
            }
            keep[token] = true;
            cumulative += probabilities[token] / sum;
            if (Math.abs(cumulative - p) < 1e-6) {
                return null;
            }
            if (cumulative >= p) {
                break;
            }
        }
        return keep;
    }
}
