package org.peft4j.djl.sft;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How close generated answers are to the reference answers, as LLaMA-Factory scores predictions
 * ({@code src/llamafactory/train/sft/metric.py}, {@code ComputeSimilarity}): per example, BLEU-4 and
 * ROUGE-1/2/L F1, each times 100 and rounded to 4 decimals, then the mean over the examples.
 * <ul>
 *   <li><b>BLEU-4</b> is NLTK's {@code sentence_bleu} on characters ({@code list(label)},
 *       {@code list(pred)}, spaces included), weights 1/4 each, with {@code SmoothingFunction().method3}:
 *       clipped n-gram precisions, an n-gram order without a match counting as 1 / (2^k x its
 *       n-gram count) for the k-th such order, and the brevity penalty exp(1 - r/c) when the
 *       prediction is shorter; 0 when no character matches.</li>
 *   <li><b>ROUGE</b> is the {@code rouge_chinese} package's on words: ROUGE-N over the sets of
 *       distinct n-grams, ROUGE-L the longest common subsequence of the word sequences, each
 *       F = 2PR / (P + R + 1e-8); 0 when either side has no word. LLaMA-Factory cuts words with
 *       jieba; here a word is a run of ASCII letters and digits (with one decimal part and a
 *       trailing %, as jieba's fallback keeps them), and every other character that is not
 *       whitespace (punctuation, each CJK character) is a word of its own. For English text this
 *       is jieba's cut; for Chinese jieba's dictionary groups characters into words, which this
 *       does not.</li>
 * </ul>
 */
public final class SimilarityMetrics {
    private static final Pattern WORD = Pattern.compile("[a-zA-Z0-9]+(?:\\.\\d+)?%?|\\S");

    /**
     * The mean scores of a set of predictions, each times 100.
     *
     * @param bleu4 BLEU-4
     * @param rouge1 ROUGE-1 F1
     * @param rouge2 ROUGE-2 F1
     * @param rougeL ROUGE-L F1
     */
    public record Scores(double bleu4, double rouge1, double rouge2, double rougeL) {}

    private SimilarityMetrics() {}

    /**
     * Scores each prediction against its reference and returns the means.
     *
     * @throws IllegalArgumentException if the lists differ in length or are empty
     */
    public static Scores score(List<String> predictions, List<String> references) {
        if (predictions.size() != references.size() || predictions.isEmpty()) {
            throw new IllegalArgumentException("expected as many predictions as references (at least one), got "
                    + predictions.size() + " and " + references.size());
        }
        double[] sums = new double[4];
        for (int i = 0; i < predictions.size(); i++) {
            String prediction = predictions.get(i);
            String reference = references.get(i);
            sums[0] += percent(bleu4(prediction, reference));
            List<String> hypothesis = words(prediction);
            List<String> ref = words(reference);
            sums[1] += percent(rougeN(hypothesis, ref, 1));
            sums[2] += percent(rougeN(hypothesis, ref, 2));
            sums[3] += percent(rougeL(hypothesis, ref));
        }
        int n = predictions.size();
        return new Scores(sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n);
    }

    /** Rounds a score in [0, 1] to a percentage with 4 decimals, as LLaMA-Factory's {@code round(v * 100, 4)}. */
    private static double percent(double score) {
        return Math.round(score * 100 * 1e4) / 1e4;
    }

    /** The words ROUGE compares (see the class comment). */
    public static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = WORD.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    /** NLTK's {@code sentence_bleu([list(reference)], list(prediction))} with method3 smoothing, in [0, 1]. */
    public static double bleu4(String prediction, String reference) {
        int[] hypothesis = prediction.codePoints().toArray();
        int[] ref = reference.codePoints().toArray();
        long[] matches = new long[4];
        long[] counts = new long[4];
        for (int n = 1; n <= 4; n++) {
            Map<List<Integer>, Integer> referenceCounts = ngramCounts(ref, n);
            long total = 0;
            for (Map.Entry<List<Integer>, Integer> e : ngramCounts(hypothesis, n).entrySet()) {
                matches[n - 1] += Math.min(e.getValue(), referenceCounts.getOrDefault(e.getKey(), 0));
                total += e.getValue();
            }
            counts[n - 1] = Math.max(1, total);
        }
        if (matches[0] == 0) {
            return 0;
        }
        int unmatchedOrders = 0;
        double logSum = 0;
        for (int n = 0; n < 4; n++) {
            double p = matches[n] > 0 ? (double) matches[n] / counts[n]
                    : 1 / (Math.pow(2, ++unmatchedOrders) * counts[n]);
            logSum += 0.25 * Math.log(p);
        }
        int c = hypothesis.length;
        int r = ref.length;
        double brevity = c > r ? 1 : Math.exp(1 - (double) r / c);
        return brevity * Math.exp(logSum);
    }

    /** ROUGE-N F1 over the distinct n-grams of the words, in [0, 1]. */
    static double rougeN(List<String> hypothesis, List<String> reference, int n) {
        if (hypothesis.isEmpty() || reference.isEmpty()) {
            return 0;
        }
        Set<List<String>> evaluated = ngramCounts(hypothesis, n).keySet();
        Set<List<String>> referenced = ngramCounts(reference, n).keySet();
        Set<List<String>> overlap = new HashSet<>(evaluated);
        overlap.retainAll(referenced);
        double precision = evaluated.isEmpty() ? 0 : (double) overlap.size() / evaluated.size();
        double recall = referenced.isEmpty() ? 0 : (double) overlap.size() / referenced.size();
        return f1(precision, recall);
    }

    /** ROUGE-L F1: the longest common subsequence of the word sequences, in [0, 1]. */
    static double rougeL(List<String> hypothesis, List<String> reference) {
        if (hypothesis.isEmpty() || reference.isEmpty()) {
            return 0;
        }
        int[][] table = new int[reference.size() + 1][hypothesis.size() + 1];
        for (int i = 1; i <= reference.size(); i++) {
            for (int j = 1; j <= hypothesis.size(); j++) {
                table[i][j] = reference.get(i - 1).equals(hypothesis.get(j - 1)) ? table[i - 1][j - 1] + 1
                        : Math.max(table[i - 1][j], table[i][j - 1]);
            }
        }
        double lcs = table[reference.size()][hypothesis.size()];
        return f1(lcs / hypothesis.size(), lcs / reference.size());
    }

    private static double f1(double precision, double recall) {
        return 2.0 * (precision * recall / (precision + recall + 1e-8));
    }

    private static Map<List<Integer>, Integer> ngramCounts(int[] tokens, int n) {
        List<Integer> boxed = new ArrayList<>(tokens.length);
        for (int t : tokens) {
            boxed.add(t);
        }
        return ngramCounts(boxed, n);
    }

    private static <T> Map<List<T>, Integer> ngramCounts(List<T> tokens, int n) {
        Map<List<T>, Integer> counts = new HashMap<>();
        for (int i = 0; i + n <= tokens.size(); i++) {
            counts.merge(List.copyOf(tokens.subList(i, i + n)), 1, Integer::sum);
        }
        return counts;
    }
}
