package org.peft4j.djl.tasks.tagging;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TrainingTask;

/**
 * Token classification ({@code TOKEN_CLS}) as a {@link TrainingTask}: each row is a sentence of
 * words with one tag each, the block ({@link TokenClassifier}) gives logits [B, T, tags], and
 * labels are aligned to sub-word tokens as transformers' token-classification example aligns them
 * ({@code tokenize_and_align_labels} with {@code word_ids()}, {@code label_all_tokens=False}): a
 * word's first token gets the word's tag, its other tokens, the special tokens and the padding get
 * {@link TokenCrossEntropyLoss#IGNORE}. The loss is {@link TokenCrossEntropyLoss}. Held-out rows are
 * scored on each word's first token (its predicted tag is that token's argmax) by seqeval's entity
 * precision, recall and F1 and by word accuracy ({@link TaggingMetrics}), logged as
 * {@code precision}, {@code recall}, {@code f1} and {@code accuracy}; the best epoch has the highest
 * F1. Words beyond the tokenizer's {@code maxLength} are neither learned nor scored, as in Python.
 */
public final class TaggingTask implements TrainingTask<TaggedSentence> {
    /** The name the entity precision is logged under. */
    public static final String PRECISION = "precision";
    /** The name the entity recall is logged under. */
    public static final String RECALL = "recall";
    /** The name the entity F1 is logged under; the best epoch has the highest. */
    public static final String F1 = "f1";
    /** The name the word accuracy is logged under. */
    public static final String ACCURACY = "accuracy";

    private final WordTokenizer tokenizer;
    private final List<String> tags;
    private final Map<String, Integer> index = new HashMap<>();

    /**
     * Tagging with {@code tags}.
     *
     * @param tags the tags the model predicts; a tag's class index is its position here (see
     *     {@link org.peft4j.api.data.TaggedSentences#tags})
     */
    public TaggingTask(WordTokenizer tokenizer, List<String> tags) {
        this.tokenizer = tokenizer;
        this.tags = List.copyOf(tags);
        for (int i = 0; i < this.tags.size(); i++) {
            if (index.put(this.tags.get(i), i) != null) {
                throw new IllegalArgumentException("tag " + this.tags.get(i) + " is listed twice in " + tags);
            }
        }
    }

    /** Returns the tags, in class order. */
    public List<String> tags() {
        return tags;
    }

    @Override
    public int length(TaggedSentence row) {
        return tokenizer.encode(row.tokens()).length();
    }

    /**
     * Encodes the sentences as {@code input_ids}, {@code attention_mask} and {@code token_type_ids}
     * (each [B, T] int64, padded with id 0 and mask 0 to the longest in the batch) and the aligned
     * labels [B, T] int64.
     *
     * @throws IllegalArgumentException naming a tag that is not one of the task's tags (such as a
     *     tag of the dev data that the training data never had)
     */
    @Override
    public Batch batch(NDManager manager, List<TaggedSentence> rows) {
        List<WordTokenizer.WordEncoding> encodings = new ArrayList<>(rows.size());
        int length = 0;
        for (TaggedSentence row : rows) {
            WordTokenizer.WordEncoding e = tokenizer.encode(row.tokens());
            encodings.add(e);
            length = Math.max(length, e.length());
        }
        long[] ids = new long[rows.size() * length];
        long[] mask = new long[ids.length];
        long[] types = new long[ids.length];
        long[] labels = new long[ids.length];
        Arrays.fill(labels, TokenCrossEntropyLoss.IGNORE);
        for (int i = 0; i < rows.size(); i++) {
            WordTokenizer.WordEncoding e = encodings.get(i);
            for (int j = 0; j < e.length(); j++) {
                int at = i * length + j;
                ids[at] = e.ids()[j];
                mask[at] = 1;
                types[at] = e.typeIds()[j];
                if (e.startsWord(j)) {
                    labels[at] = tagIndex(rows.get(i), (int) e.wordIds()[j]);
                }
            }
        }
        Shape shape = new Shape(rows.size(), length);
        return new Batch(new NDList(manager.create(ids, shape), manager.create(mask, shape), manager.create(types, shape)),
                new NDList(manager.create(labels, shape)));
    }

    private int tagIndex(TaggedSentence row, int word) {
        String tag = row.tags().get(word);
        Integer i = index.get(tag);
        if (i == null) {
            throw new IllegalArgumentException("tag \"" + tag + "\" (word " + (word + 1) + " of the sentence "
                    + Excerpt.quote(String.join(" ", row.tokens())) + ") is not one of the model's tags " + tags
                    + "; the training data never had it");
        }
        return i;
    }

    @Override
    public TokenCrossEntropyLoss loss() {
        return new TokenCrossEntropyLoss();
    }

    @Override
    public Scorer evaluator() {
        return new Scorer();
    }

    /**
     * The predicted tag of each word of a batch whose block outputs are {@code logits}: the argmax of
     * its first token, for the words the tokenizer kept.
     *
     * @param labels the batch's aligned labels, which mark each word's first token
     */
    private List<List<String>> predictedTags(NDArray logits, long[] labels, int rows, int length) {
        long[] best = logits.argMax(-1).toLongArray();
        List<List<String>> out = new ArrayList<>(rows);
        for (int i = 0; i < rows; i++) {
            List<String> sentence = new ArrayList<>();
            for (int j = 0; j < length; j++) {
                if (labels[i * length + j] != TokenCrossEntropyLoss.IGNORE) {
                    sentence.add(tags.get((int) best[i * length + j]));
                }
            }
            out.add(sentence);
        }
        return out;
    }

    /**
     * Predicts the tag of each word of {@code sentences} from the block's logits on
     * {@link #batch}'s inputs, and the entities those tags form.
     *
     * @param logits the block's output on the batch of {@code sentences}
     * @param batch the batch made from {@code sentences}
     */
    public List<Prediction> predictions(List<TaggedSentence> sentences, Batch batch, NDArray logits) {
        NDArray labels = batch.targets().singletonOrThrow();
        int length = (int) labels.getShape().get(1);
        List<List<String>> predicted = predictedTags(logits, labels.toLongArray(), sentences.size(), length);
        List<Prediction> out = new ArrayList<>(sentences.size());
        for (int i = 0; i < sentences.size(); i++) {
            // the words that have a first token, in order: those the tags were predicted for
            WordTokenizer.WordEncoding e = tokenizer.encode(sentences.get(i).tokens());
            List<String> words = new ArrayList<>();
            for (int j = 0; j < e.length(); j++) {
                if (e.startsWord(j)) {
                    words.add(sentences.get(i).tokens().get((int) e.wordIds()[j]));
                }
            }
            out.add(new Prediction(words, predicted.get(i), EntityChunker.entities(predicted.get(i))));
        }
        return out;
    }

    /**
     * The tags predicted for one sentence.
     *
     * @param words the words that were tagged: those with a token of their own (all, unless the
     *     sentence was longer than the tokenizer's {@code maxLength} or a word tokenized to nothing)
     * @param tags the predicted tag of each of them
     * @param entities the entities the tags form ({@link EntityChunker})
     */
    public record Prediction(List<String> words, List<String> tags, List<Entity> entities) {}

    /**
     * Scores held-out sentences: the mean token cross-entropy over every labelled token, and
     * seqeval's entity precision, recall and F1 (micro-averaged) and word accuracy.
     */
    public final class Scorer implements TrainingTask.Evaluator<TaggedSentence> {
        private final List<List<String>> truth = new ArrayList<>();
        private final List<List<String>> predicted = new ArrayList<>();
        private double lossSum;
        private long tokens;

        private Scorer() {}

        @Override
        public void add(List<TaggedSentence> rows, Batch batch, NDList outputs) {
            NDArray logits = outputs.singletonOrThrow();
            NDArray labelArray = batch.targets().singletonOrThrow();
            long[] labels = labelArray.toLongArray();
            int length = (int) labelArray.getShape().get(1);
            float[] logProbs = logits.logSoftmax(-1).toFloatArray();
            for (int at = 0; at < labels.length; at++) {
                if (labels[at] != TokenCrossEntropyLoss.IGNORE) {
                    lossSum -= logProbs[at * tags.size() + (int) labels[at]];
                    tokens++;
                }
            }
            predicted.addAll(predictedTags(logits, labels, rows.size(), length));
            for (int i = 0; i < rows.size(); i++) {
                List<String> sentence = new ArrayList<>();
                for (int j = 0; j < length; j++) {
                    long label = labels[i * length + j];
                    if (label != TokenCrossEntropyLoss.IGNORE) {
                        sentence.add(tags.get((int) label));
                    }
                }
                truth.add(sentence);
            }
        }

        /** The entity and word scores of the sentences added. */
        public TaggingMetrics metrics() {
            return TaggingMetrics.of(truth, predicted);
        }

        @Override
        public TaskEvaluation result() {
            TaggingMetrics m = metrics();
            Map<String, Double> named = new LinkedHashMap<>();
            named.put(PRECISION, m.precision());
            named.put(RECALL, m.recall());
            named.put(F1, m.f1());
            named.put(ACCURACY, m.accuracy());
            return new TaskEvaluation(tokens == 0 ? 0 : lossSum / tokens, named, F1);
        }
    }
}
