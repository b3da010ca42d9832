package org.peft4j.tribuo.tagging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TaggingMetrics;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sequence.LabelSequenceEvaluation;
import org.tribuo.classification.sequence.LabelSequenceEvaluator;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import org.tribuo.sequence.MutableSequenceDataset;

/**
 * LoRA on the real all-MiniLM-L6-v2 through {@link TaggingPeftTrainer} learns to tag numbers,
 * e-mail addresses and URLs in real mail text: windows of the SpamAssassin mails in
 * data/spamassassin.tsv, tagged by rules, as Tribuo sequence datasets; scored by Tribuo's
 * {@link LabelSequenceEvaluator} (per word) and by seqeval's entity F1 ({@link TaggingMetrics}).
 */
class MiniLmTaggingTest {
    private static final Pattern EMAIL = Pattern.compile("[\\w.+-]+@[\\w-]+(\\.[\\w-]+)+");
    private static final Pattern URL = Pattern.compile("(?i)(https?://|www\\.)\\S+");
    private static final Pattern NUMBER = Pattern.compile("\\d+([,.:]\\d+)*");
    private static final int WIDTH = 12;

    /**
     * From each of the first {@code count} mails of {@code split} that have an entity, the window of
     * {@link #WIDTH} words (split on spaces, brackets, quotes and end punctuation stripped) that
     * starts three words before the first entity; each word tagged {@code B-EMAIL}, {@code B-URL},
     * {@code B-NUM} or {@code O}.
     */
    static List<TaggedSentence> sentences(String split, int count) throws IOException {
        List<TaggedSentence> out = new ArrayList<>();
        for (LabeledText mail : LabeledTexts.split(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")), split)) {
            List<String> words = new ArrayList<>();
            List<String> tags = new ArrayList<>();
            int first = -1;
            for (String raw : mail.text().split("\\s+")) {
                String word = raw.replaceAll("^[<(\\[\"']+", "").replaceAll("[>)\\]\"',.;:!?]+$", "");
                if (!word.isEmpty()) {
                    String tag = EMAIL.matcher(word).matches() ? "B-EMAIL" : URL.matcher(word).matches() ? "B-URL"
                            : NUMBER.matcher(word).matches() ? "B-NUM" : "O";
                    first = first < 0 && !tag.equals("O") ? words.size() : first;
                    words.add(word);
                    tags.add(tag);
                }
            }
            if (first >= 0) {
                int from = Math.max(0, Math.min(first - 3, words.size() - WIDTH));
                int to = Math.min(words.size(), from + WIDTH);
                out.add(new TaggedSentence(words.subList(from, to), tags.subList(from, to)));
                if (out.size() == count) {
                    break;
                }
            }
        }
        return out;
    }

    @Test
    void loraOnMiniLmLearnsToTagRealMailText() throws Exception {
        LabelFactory labels = new LabelFactory();
        MutableSequenceDataset<Label> train = TaggedSequences.dataset(sentences("train", 64),
                new SimpleDataSourceProvenance("spam mail windows, train, 64", labels));
        MutableSequenceDataset<Label> dev = TaggedSequences.dataset(sentences("dev", 32),
                new SimpleDataSourceProvenance("spam mail windows, dev, 32", labels));
        TaggingPeftTrainer trainer = new TaggingPeftTrainer(PretrainedEncoder.ALL_MINILM_L6_V2,
                LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build())
                .maxLength(48).schedule(2, 8, 1e-2f).seed(5);
        long start = System.nanoTime();
        try (TaggingPeftModel model = trainer.train(train)) {
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            LabelSequenceEvaluation words = new LabelSequenceEvaluator().evaluate(model, dev);
            List<List<Prediction<Label>>> predicted = model.predict(dev);
            TaggingMetrics entities = model.entityMetrics(dev);

            // the word accuracy and the always-"O" baseline, counted here from the predictions
            double right = 0;
            double outside = 0;
            double total = 0;
            for (int s = 0; s < dev.size(); s++) {
                for (int w = 0; w < dev.getExample(s).size(); w++) {
                    String truth = dev.getExample(s).get(w).getOutput().getLabel();
                    right += predicted.get(s).get(w).getOutput().getLabel().equals(truth) ? 1 : 0;
                    outside += truth.equals("O") ? 1 : 0;
                    total++;
                }
            }
            float[] losses = model.epochLosses();
            System.out.printf("MiniLM tagger via Tribuo: train loss by epoch %s; dev word accuracy %.4f"
                    + " (always O %.4f), entity P %.4f R %.4f F1 %.4f, per type %s; trained in %.1f s%n",
                    java.util.Arrays.toString(losses), words.accuracy(), outside / total, entities.precision(),
                    entities.recall(), entities.f1(), entities.perType(), trainSeconds);
            assertThat(words.accuracy()).isCloseTo(right / total, within(1e-12));
            assertThat(entities.accuracy()).isCloseTo(right / total, within(1e-12));
            assertThat(losses[1]).isLessThan(losses[0] / 2);
            assertThat(words.accuracy()).isGreaterThan(outside / total + 0.05);
            assertThat(entities.f1()).isGreaterThan(0.6);
        }
    }
}
