package org.peft4j.djl.tasks.embedding;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * How well queries retrieve their one relevant passage from a corpus, by similarity: recall@1 and
 * recall@10 (the share of queries whose passage ranks first, or among the first ten) and MRR@10
 * (the mean of 1 / rank, counting 0 for a rank past ten). A query's rank is one plus the number of
 * corpus passages scored strictly higher than its own, so ties count in the query's favour.
 *
 * @param recallAt1 the share of queries whose passage ranks first
 * @param recallAt10 the share whose passage ranks in the first ten
 * @param mrrAt10 the mean reciprocal rank, cut at ten
 * @param queries the number of queries
 */
public record RetrievalMetrics(double recallAt1, double recallAt10, double mrrAt10, int queries) {
    /** The name recall@1 is logged under. */
    public static final String RECALL_AT_1 = "recall@1";
    /** The name recall@10 is logged under; the selection metric of a retrieval run. */
    public static final String RECALL_AT_10 = "recall@10";
    /** The name MRR@10 is logged under. */
    public static final String MRR_AT_10 = "mrr@10";

    private static final int CUTOFF = 10;

    /**
     * Scores queries against a corpus.
     *
     * @param similarity [queries][corpus] similarities, higher is closer
     * @param relevant for each query, the index of its passage in the corpus
     * @throws IllegalArgumentException if the arrays disagree in size or an index is outside the corpus
     */
    public static RetrievalMetrics of(float[][] similarity, int[] relevant) {
        if (similarity.length != relevant.length) {
            throw new IllegalArgumentException(similarity.length + " rows of similarities for " + relevant.length
                    + " queries");
        }
        int top1 = 0;
        int top10 = 0;
        double reciprocal = 0;
        for (int q = 0; q < similarity.length; q++) {
            float[] row = similarity[q];
            if (relevant[q] < 0 || relevant[q] >= row.length) {
                throw new IllegalArgumentException("query " + q + ": passage " + relevant[q] + " is outside the corpus of "
                        + row.length);
            }
            float own = row[relevant[q]];
            int rank = 1;
            for (float s : row) {
                rank += s > own ? 1 : 0;
            }
            top1 += rank == 1 ? 1 : 0;
            if (rank <= CUTOFF) {
                top10++;
                reciprocal += 1.0 / rank;
            }
        }
        int n = similarity.length;
        return n == 0 ? new RetrievalMetrics(0, 0, 0, 0)
                : new RetrievalMetrics((double) top1 / n, (double) top10 / n, reciprocal / n, n);
    }

    /** The metrics by the names they are logged under, recall@1, recall@10 and MRR@10 in that order. */
    public Map<String, Double> named() {
        Map<String, Double> out = new LinkedHashMap<>();
        out.put(RECALL_AT_1, recallAt1);
        out.put(RECALL_AT_10, recallAt10);
        out.put(MRR_AT_10, mrrAt10);
        return out;
    }
}
