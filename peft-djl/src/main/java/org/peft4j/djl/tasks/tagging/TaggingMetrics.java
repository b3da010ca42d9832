package org.peft4j.djl.tasks.tagging;

import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Entity-level precision, recall and F1 of predicted tags against the true ones, as Python's
 * seqeval computes them by default (and so transformers' token-classification example and the
 * {@code evaluate} library's {@code seqeval} metric): the entities of each sentence are found by
 * {@link EntityChunker}, a predicted entity is correct only if a true entity has the same type,
 * start and end, and the overall figures are micro-averaged over the entity types (precision =
 * correct / predicted entities, recall = correct / true entities, F1 their harmonic mean, each 0
 * when its denominator is, as seqeval's {@code zero_division}). Accuracy is per word: the share
 * of words whose predicted tag is the true one (seqeval's {@code accuracy_score}).
 *
 * @param precision micro-averaged entity precision
 * @param recall micro-averaged entity recall
 * @param f1 micro-averaged entity F1
 * @param accuracy the share of words tagged correctly
 * @param perType the figures of each entity type, by type, sorted
 */
public record TaggingMetrics(double precision, double recall, double f1, double accuracy, Map<String, TypeScore> perType) {
    /** Copies the per-type figures. */
    public TaggingMetrics {
        perType = Collections.unmodifiableMap(new TreeMap<>(perType));
    }

    /**
     * The figures of one entity type.
     *
     * @param precision correct / predicted entities of the type
     * @param recall correct / true entities of the type
     * @param f1 their harmonic mean
     * @param support the number of true entities of the type (seqeval's {@code number})
     */
    public record TypeScore(double precision, double recall, double f1, int support) {}

    /**
     * Scores sentences: {@code truth.get(i)} and {@code predicted.get(i)} are the tags of sentence i.
     *
     * @throws IllegalArgumentException if the lists, or a sentence's two tag lists, differ in length
     */
    public static TaggingMetrics of(List<List<String>> truth, List<List<String>> predicted) {
        if (truth.size() != predicted.size()) {
            throw new IllegalArgumentException(truth.size() + " true sentences but " + predicted.size() + " predicted");
        }
        Map<String, int[]> counts = new TreeMap<>(); // type -> {correct, predicted, true}
        long words = 0;
        long rightWords = 0;
        for (int s = 0; s < truth.size(); s++) {
            List<String> t = truth.get(s);
            List<String> p = predicted.get(s);
            if (t.size() != p.size()) {
                throw new IllegalArgumentException("sentence " + s + " has " + t.size() + " true tags but " + p.size()
                        + " predicted");
            }
            for (int i = 0; i < t.size(); i++) {
                rightWords += t.get(i).equals(p.get(i)) ? 1 : 0;
            }
            words += t.size();
            Set<Entity> trueEntities = new HashSet<>(EntityChunker.entities(t));
            for (Entity e : trueEntities) {
                counts.computeIfAbsent(e.type(), k -> new int[3])[2]++;
            }
            for (Entity e : new HashSet<>(EntityChunker.entities(p))) {
                int[] c = counts.computeIfAbsent(e.type(), k -> new int[3]);
                c[1]++;
                c[0] += trueEntities.contains(e) ? 1 : 0;
            }
        }
        Map<String, TypeScore> perType = new TreeMap<>();
        int correct = 0;
        int predictedCount = 0;
        int trueCount = 0;
        for (Map.Entry<String, int[]> e : counts.entrySet()) {
            int[] c = e.getValue();
            correct += c[0];
            predictedCount += c[1];
            trueCount += c[2];
            double precision = ratio(c[0], c[1]);
            double recall = ratio(c[0], c[2]);
            perType.put(e.getKey(), new TypeScore(precision, recall, f1(precision, recall), c[2]));
        }
        double precision = ratio(correct, predictedCount);
        double recall = ratio(correct, trueCount);
        return new TaggingMetrics(precision, recall, f1(precision, recall), words == 0 ? 0 : (double) rightWords / words,
                perType);
    }

    private static double ratio(int numerator, int denominator) {
        return denominator == 0 ? 0 : (double) numerator / denominator;
    }

    private static double f1(double precision, double recall) {
        return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
    }
}
