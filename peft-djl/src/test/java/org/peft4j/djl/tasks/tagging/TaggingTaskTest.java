package org.peft4j.djl.tasks.tagging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.engine.Engine;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TrainingTask;

/** The task's pieces with the real all-MiniLM-L6-v2 tokenizer: alignment, loss, gradients, scoring. */
class TaggingTaskTest {
    static final String TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";
    private static final List<String> TAGS = List.of("B-NUM", "B-URL", "I-NUM", "O");

    private static WordTokenizer tokenizer;
    private static TaggingTask task;

    static WordTokenizer miniLmTokenizer(int maxLength) throws IOException {
        try (InputStream in = TaggingTaskTest.class.getResourceAsStream(TOKENIZER)) {
            return WordTokenizer.fromTokenizerJson(in, maxLength);
        }
    }

    @BeforeAll
    static void setUp() throws IOException {
        tokenizer = miniLmTokenizer(64);
        task = new TaggingTask(tokenizer, TAGS);
    }

    @AfterAll
    static void tearDown() {
        tokenizer.close();
    }

    /** The sub-tokens of one word, tokenized alone without special tokens: independent of word ids. */
    private static int subTokens(HuggingFaceTokenizer alone, String word) {
        return alone.encode(word, false, false).getIds().length;
    }

    @Test
    void firstSubTokenOfEachWordGetsItsTagAndTheRestAreIgnored() throws IOException {
        TaggedSentence longer = new TaggedSentence(List.of("Visit", "http://peft4j.example.org", "at", "10", "30"),
                List.of("O", "B-URL", "O", "B-NUM", "I-NUM"));
        TaggedSentence shorter = new TaggedSentence(List.of("unbelievably", "42"), List.of("O", "B-NUM"));
        List<TaggedSentence> rows = List.of(longer, shorter);
        try (NDManager manager = NDManager.newBaseManager();
                InputStream in = getClass().getResourceAsStream(TOKENIZER);
                HuggingFaceTokenizer alone = HuggingFaceTokenizer.newInstance(in, Map.of())) {
            TrainingTask.Batch batch = task.batch(manager, rows);
            // expected: [CLS] ignored, then per word its tag on the first sub-token and -100 on the others, [SEP] ignored
            List<List<Long>> expected = new ArrayList<>();
            for (TaggedSentence row : rows) {
                List<Long> labels = new ArrayList<>(List.of(-100L));
                for (int w = 0; w < row.size(); w++) {
                    labels.add((long) TAGS.indexOf(row.tags().get(w)));
                    for (int k = 1; k < subTokens(alone, row.tokens().get(w)); k++) {
                        labels.add(-100L);
                    }
                }
                labels.add(-100L);
                expected.add(labels);
            }
            assertThat(subTokens(alone, "http://peft4j.example.org")).isGreaterThan(3); // a word of many sub-tokens
            int length = expected.get(0).size();
            NDArray labels = batch.targets().singletonOrThrow();
            assertThat(labels.getShape()).isEqualTo(new Shape(2, length));
            long[] flat = labels.toLongArray();
            long[] mask = batch.inputs().get(1).toLongArray();
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < length; j++) {
                    boolean real = j < expected.get(i).size();
                    assertThat(flat[i * length + j]).as("row %d token %d", i, j)
                            .isEqualTo(real ? expected.get(i).get(j) : -100L);
                    assertThat(mask[i * length + j]).isEqualTo(real ? 1L : 0L);
                }
            }
            // the ids are the tokenizer's own: [CLS] first, the words' sub-tokens, [SEP]
            long[] ids = batch.inputs().get(0).toLongArray();
            assertThat(ids[0]).isEqualTo(alone.encode("x").getIds()[0]);
            assertThat(ids[1]).isEqualTo(alone.encode("Visit", false, false).getIds()[0]);
        }
    }

    @Test
    void aTagNeverSeenInTrainingIsNamed() {
        TaggedSentence row = new TaggedSentence(List.of("Mail", "me"), List.of("B-EMAIL", "O"));
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> task.batch(manager, List.of(row))).isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("tag \"B-EMAIL\" (word 1 of the sentence \"Mail me\") is not one of the model's tags"
                            + " [B-NUM, B-URL, I-NUM, O]; the training data never had it");
        }
    }

    @Test
    void lossIsTheMeanCrossEntropyOfLabelledTokensAndIgnoredTokensGetNoGradient() {
        float[][] logits = {{2f, -1f, 0.5f}, {0.3f, 0.3f, 4f}, {-2f, 1f, 0f}, {1f, 1f, 1f}};
        long[] labels = {0, -100, 1, -100};
        // by hand: mean over tokens 0 and 2 of -log softmax(logits)[label]
        double expected = (-logSoftmax(logits[0], 0) - logSoftmax(logits[2], 1)) / 2;
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(new float[] {2f, -1f, 0.5f, 0.3f, 0.3f, 4f, -2f, 1f, 0f, 1f, 1f, 1f},
                    new Shape(2, 2, 3));
            x.setRequiresGradient(true);
            NDArray y = manager.create(labels, new Shape(2, 2));
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                NDArray loss = new TokenCrossEntropyLoss().evaluate(new NDList(y), new NDList(x));
                assertThat((double) loss.getFloat()).isCloseTo(expected, within(1e-6));
                collector.backward(loss);
            }
            float[] grad = x.getGradient().toFloatArray();
            for (int t = 0; t < 4; t++) {
                for (int c = 0; c < 3; c++) {
                    // d loss / d logit = (softmax - one-hot) / 2 on labelled tokens, 0 on ignored ones
                    double g = labels[t] < 0 ? 0 : (Math.exp(logSoftmax(logits[t], c)) - (c == labels[t] ? 1 : 0)) / 2;
                    assertThat((double) grad[t * 3 + c]).as("token %d class %d", t, c).isCloseTo(g, within(1e-6));
                }
            }
        }
    }

    private static double logSoftmax(float[] row, int k) {
        double sum = 0;
        for (float v : row) {
            sum += Math.exp(v);
        }
        return row[k] - Math.log(sum);
    }

    @Test
    void theEvaluatorScoresEachWordOnItsFirstSubToken() {
        // truth: sentence 1 "B-URL O B-NUM I-NUM" (URL, NUM over two words), sentence 2 "O B-NUM"
        TaggedSentence first = new TaggedSentence(List.of("http://a.example.com", "at", "10", "30"),
                List.of("B-URL", "O", "B-NUM", "I-NUM"));
        TaggedSentence second = new TaggedSentence(List.of("unbelievably", "42"), List.of("O", "B-NUM"));
        // predicted: sentence 1 "B-URL O B-NUM B-NUM" (URL right, NUM(2) and NUM(3) wrong), sentence 2 "O B-NUM" (right)
        List<List<String>> predictedTags = List.of(List.of("B-URL", "O", "B-NUM", "B-NUM"), List.of("O", "B-NUM"));
        try (NDManager manager = NDManager.newBaseManager()) {
            List<TaggedSentence> rows = List.of(first, second);
            TrainingTask.Batch batch = task.batch(manager, rows);
            long[] labels = batch.targets().singletonOrThrow().toLongArray();
            int length = (int) batch.targets().singletonOrThrow().getShape().get(1);
            // logits: 3 on the predicted tag of each word's first sub-token, 3 on "O" elsewhere (which must not count)
            float[] logits = new float[labels.length * TAGS.size()];
            double lossSum = 0;
            int labelled = 0;
            for (int i = 0; i < 2; i++) {
                int word = 0;
                for (int j = 0; j < length; j++) {
                    int at = i * length + j;
                    boolean first1 = labels[at] != -100;
                    String tag = first1 ? predictedTags.get(i).get(word++) : "O";
                    logits[at * TAGS.size() + TAGS.indexOf(tag)] = 3f;
                    if (first1) {
                        // -log softmax: the true class has 3 if predicted right, else 0; the others 0
                        double right = TAGS.indexOf(tag) == labels[at] ? 3 : 0;
                        lossSum += Math.log(Math.exp(3) + 3) - right;
                        labelled++;
                    }
                }
            }
            TaskEvaluation eval;
            TaggingTask.Scorer scorer = task.evaluator();
            NDArray out = manager.create(logits, new Shape(2, length, TAGS.size()));
            scorer.add(rows, batch, new NDList(out));
            eval = scorer.result();
            // entities: true URL(0,0) NUM(2,3) NUM(1,1); predicted URL(0,0) NUM(2,2) NUM(3,3) NUM(1,1): 2 right
            assertThat(eval.metric("precision")).isCloseTo(2.0 / 4, within(1e-12));
            assertThat(eval.metric("recall")).isCloseTo(2.0 / 3, within(1e-12));
            assertThat(eval.metric("f1")).isCloseTo(2 * 0.5 * (2.0 / 3) / (0.5 + 2.0 / 3), within(1e-12));
            assertThat(eval.metric("accuracy")).isCloseTo(5.0 / 6, within(1e-12)); // only word 4 of sentence 1 wrong
            assertThat(eval.selectionMetric()).isEqualTo("f1");
            assertThat(labelled).isEqualTo(6);
            assertThat(eval.loss()).isCloseTo(lossSum / labelled, within(1e-5));
            assertThat(task.predictions(rows, batch, out).get(1)).isEqualTo(new TaggingTask.Prediction(second.tokens(),
                    List.of("O", "B-NUM"), List.of(new Entity("NUM", 1, 1))));
            assertThat(task.predictions(rows, batch, out).get(0).entities()).containsExactly(new Entity("URL", 0, 0),
                    new Entity("NUM", 2, 2), new Entity("NUM", 3, 3));
        }
    }
}
