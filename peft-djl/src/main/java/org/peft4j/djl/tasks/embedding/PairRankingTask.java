package org.peft4j.djl.tasks.embedding;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.peft4j.api.data.TextPair;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TrainingTask;

/**
 * Sentence-embedding training on (anchor, positive) pairs as a {@link TrainingTask}: a batch is
 * the anchors' and the positives' inputs ({@link SentenceEmbedder} embeds each side, padded to its
 * own length), the loss is {@link MultipleNegativesRankingLoss} (each pair's positive against the
 * batch's other positives), and held-out pairs are scored by retrieval: each anchor searches the
 * split's distinct positives by cosine similarity for its own ({@link RetrievalMetrics}: recall@1,
 * recall@10, MRR@10; the best epoch has the highest recall@10).
 */
public final class PairRankingTask implements TrainingTask<TextPair> {
    private final BertTokenizer tokenizer;
    private final MultipleNegativesRankingLoss loss;

    /** The task with sentence-transformers' default scale, 20. */
    public PairRankingTask(BertTokenizer tokenizer) {
        this(tokenizer, new MultipleNegativesRankingLoss());
    }

    /** The task with its own loss (such as another scale). */
    public PairRankingTask(BertTokenizer tokenizer, MultipleNegativesRankingLoss loss) {
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        this.loss = Objects.requireNonNull(loss, "loss");
    }

    /** The anchor's and the positive's tokens together. */
    @Override
    public int length(TextPair row) {
        return tokenizer.ids(row.anchor()).length + tokenizer.ids(row.positive()).length;
    }

    /**
     * Inputs: the anchors' {@code input_ids}, {@code attention_mask} and {@code token_type_ids}, then
     * the positives'. Targets: each row's own index, the column of its positive (the loss needs no
     * more).
     */
    @Override
    public Batch batch(NDManager manager, List<TextPair> rows) {
        List<String> anchors = new ArrayList<>(rows.size());
        List<String> positives = new ArrayList<>(rows.size());
        for (TextPair row : rows) {
            anchors.add(row.anchor());
            positives.add(row.positive());
        }
        NDList inputs = tokenizer.encode(manager, anchors);
        inputs.addAll(tokenizer.encode(manager, positives));
        return new Batch(inputs, new NDList(manager.arange(0, rows.size(), 1, DataType.INT64)));
    }

    @Override
    public Loss loss() {
        return loss;
    }

    @Override
    public Scorer evaluator() {
        return new Scorer();
    }

    /**
     * Scores held-out pairs: the mean in-batch loss (which depends on the evaluation batch size, as
     * the negatives are the batch's), and retrieval over every pair added, with the distinct
     * positives as the corpus.
     */
    public final class Scorer implements TrainingTask.Evaluator<TextPair> {
        private final List<float[]> anchors = new ArrayList<>();
        private final List<float[]> positives = new ArrayList<>();
        private final List<String> positiveTexts = new ArrayList<>();
        private double lossSum;

        private Scorer() {}

        @Override
        public void add(List<TextPair> rows, Batch batch, NDList outputs) {
            NDArray a = EmbeddingPooling.l2Normalize(outputs.get(0));
            NDArray p = EmbeddingPooling.l2Normalize(outputs.get(1));
            lossSum += loss.evaluate(a, p).getFloat() * rows.size();
            split(a.toFloatArray(), rows.size(), anchors);
            split(p.toFloatArray(), rows.size(), positives);
            rows.forEach(r -> positiveTexts.add(r.positive()));
        }

        private void split(float[] flat, int rows, List<float[]> into) {
            int width = flat.length / rows;
            for (int i = 0; i < rows; i++) {
                float[] v = new float[width];
                System.arraycopy(flat, i * width, v, 0, width);
                into.add(v);
            }
        }

        /**
         * Retrieval over the pairs added: each anchor against the distinct positives (a text that
         * is the positive of several pairs is one passage, relevant to each of their anchors).
         */
        public RetrievalMetrics retrieval() {
            Map<String, Integer> index = new HashMap<>();
            List<float[]> corpus = new ArrayList<>();
            int[] relevant = new int[anchors.size()];
            for (int i = 0; i < anchors.size(); i++) {
                Integer at = index.get(positiveTexts.get(i));
                if (at == null) {
                    at = corpus.size();
                    index.put(positiveTexts.get(i), at);
                    corpus.add(positives.get(i));
                }
                relevant[i] = at;
            }
            float[][] similarity = new float[anchors.size()][corpus.size()];
            for (int q = 0; q < anchors.size(); q++) {
                float[] query = anchors.get(q);
                for (int d = 0; d < corpus.size(); d++) {
                    float[] passage = corpus.get(d);
                    float dot = 0;
                    for (int h = 0; h < query.length; h++) {
                        dot += query[h] * passage[h];
                    }
                    similarity[q][d] = dot;
                }
            }
            return RetrievalMetrics.of(similarity, relevant);
        }

        @Override
        public TaskEvaluation result() {
            return new TaskEvaluation(anchors.isEmpty() ? Double.NaN : lossSum / anchors.size(), retrieval().named(),
                    RetrievalMetrics.RECALL_AT_10);
        }
    }
}
