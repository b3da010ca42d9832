package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.tribuo.text.TextPeftModel;
import org.peft4j.tribuo.text.TextPeftTrainer;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.evaluation.LabelEvaluation;
import org.tribuo.classification.evaluation.LabelEvaluator;
import org.tribuo.data.columnar.RowProcessor;
import org.tribuo.data.columnar.extractors.IdentityExtractor;
import org.tribuo.data.columnar.processors.field.TextFieldProcessor;
import org.tribuo.data.columnar.processors.response.FieldResponseProcessor;
import org.tribuo.data.csv.CSVDataSource;
import org.tribuo.data.text.impl.BasicPipeline;
import org.tribuo.impl.ArrayExample;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import org.tribuo.regression.RegressionFactory;
import org.tribuo.regression.Regressor;
import org.tribuo.regression.evaluation.RegressionEvaluation;
import org.tribuo.regression.evaluation.RegressionEvaluator;
import org.tribuo.util.tokens.impl.BreakIteratorTokenizer;

/**
 * Deep PEFT for Tribuo users: the spam data read with Tribuo's own CSV loader (the text kept as a
 * metadata value), all-MiniLM-L6-v2 fine-tuned with LoRA through a Tribuo Trainer, evaluated by
 * Tribuo's LabelEvaluator, and saved and loaded both of Tribuo's ways with identical predictions.
 */
class TribuoTextPeftTest {
    /** Reads the TSV as Tribuo does: a bag of words as features, the text and the split as metadata. */
    static List<Example<Label>> readSpam() {
        RowProcessor<Label> rows = new RowProcessor.Builder<Label>()
                .addFieldProcessor(new TextFieldProcessor("text", new BasicPipeline(new BreakIteratorTokenizer(Locale.US), 1)))
                .addMetadataExtractor(new IdentityExtractor("text", TextPeftTrainer.DEFAULT_TEXT_FIELD))
                .addMetadataExtractor(new IdentityExtractor("split", "split"))
                .build(new FieldResponseProcessor<>(List.of("label"), List.of(""), new LabelFactory(), false, false));
        // the texts hold quotes but never U+0001, so nothing is read as quoted
        CSVDataSource<Label> source = new CSVDataSource<>(Path.of("../data/spamassassin.tsv"), rows, true, '\t', '\u0001');
        List<Example<Label>> out = new ArrayList<>();
        source.forEach(out::add);
        return out;
    }

    static MutableDataset<Label> dataset(List<Example<Label>> examples, String description) {
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance(description, factory), factory);
        examples.forEach(data::add);
        return data;
    }

    @Test
    void loraOnMiniLmThroughATribuoTrainer(@TempDir Path dir) throws Exception {
        List<Example<Label>> all = readSpam();
        List<Example<Label>> train = new ArrayList<>();
        List<Example<Label>> test = new ArrayList<>();
        for (Example<Label> e : all) {
            String split = (String) e.getMetadataValue("split").orElseThrow();
            (split.equals("train") ? train : split.equals("test") ? test : new ArrayList<Example<Label>>()).add(e);
        }
        assertThat(all).hasSize(6046);
        assertThat(test).hasSize(1178);
        Collections.shuffle(train, new Random(42));
        Dataset<Label> trainData = dataset(train.subList(0, 320), "spam train sample, 320 rows");
        Dataset<Label> testData = dataset(test, "spam test split");

        TextPeftTrainer<Label> trainer = TextPeftTrainer.classification(PretrainedEncoder.ALL_MINILM_L6_V2,
                LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build())
                .maxLength(128).schedule(1, 16, 2e-3f).warmup(0f, LearningRateSchedule.Kind.CONSTANT).seed(42);
        try (TextPeftModel<Label> model = trainer.train(trainData)) {
            LabelEvaluation evaluation = new LabelEvaluator().evaluate(model, testData);
            System.out.printf("Tribuo LabelEvaluator on the test split: accuracy %.4f, macro F1 %.4f%n",
                    evaluation.accuracy(), evaluation.macroAveragedF1());
            assertThat(evaluation.accuracy()).isGreaterThan(0.88); // 0.9185 here; always-ham scores 0.70
            assertThat(model.getProvenance().getTrainerProvenance().getConfiguredParameters().get("adapterConfig")
                    .toString()).contains("\"r\" : 8", "classifier");
            assertThat(model.getProvenance().getDatasetProvenance()).isEqualTo(trainData.getProvenance());
            Prediction<Label> first = model.predict(testData.getExample(0));
            assertThat(first.getOutputScores().values().stream().mapToDouble(Label::getScore).sum())
                    .isCloseTo(1.0, org.assertj.core.data.Offset.offset(1e-5));

            Dataset<Label> probe = dataset(test.subList(0, 40), "probe");
            List<Prediction<Label>> expected = model.predict(probe);
            Path file = dir.resolve("model.tribuo");
            model.serializeToFile(file);
            try (TextPeftModel<?> fromProto = (TextPeftModel<?>) Model.deserializeFromFile(file)) {
                assertSameScores(expected, fromProto.castModel(Label.class).predict(probe));
                assertThat(fromProto.getProvenance()).isEqualTo(model.getProvenance());
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(model);
            }
            try (TextPeftModel<?> fromJava = (TextPeftModel<?>) new ObjectInputStream(
                    new ByteArrayInputStream(bytes.toByteArray())).readObject()) {
                assertSameScores(expected, fromJava.castModel(Label.class).predict(probe));
            }
            model.saveAdapter(dir.resolve("adapter"));
            assertThat(AdapterCheckpoint.load(dir.resolve("adapter")).tensors())
                    .containsKey("base_model.model.classifier.weight");

            ArrayExample<Label> noText = new ArrayExample<>(new Label("ham"), new String[] {"text@1-N=hello"},
                    new double[] {1});
            assertThatThrownBy(() -> model.predict(noText)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("no text in its metadata value \"text\"");
        }
    }

    /**
     * The Regressor variant: "how spammy" as a number (1 for spam, 0 for ham) regressed from the
     * text, against the constant prediction of the training mean, by Tribuo's RegressionEvaluator.
     */
    @Test
    void regressionHeadThroughATribuoTrainer() throws Exception {
        List<Example<Label>> all = readSpam();
        List<Example<Regressor>> train = new ArrayList<>();
        List<Example<Regressor>> test = new ArrayList<>();
        for (Example<Label> e : all) {
            String split = (String) e.getMetadataValue("split").orElseThrow();
            Example<Regressor> r = new ArrayExample<>(new Regressor("spamminess",
                    e.getOutput().getLabel().equals("spam") ? 1 : 0), Map.of("text", e.getMetadataValue("text").get()));
            e.forEach(r::add);
            (split.equals("train") ? train : split.equals("test") ? test : new ArrayList<Example<Regressor>>()).add(r);
        }
        Collections.shuffle(train, new Random(42));
        RegressionFactory factory = new RegressionFactory();
        MutableDataset<Regressor> trainData = new MutableDataset<>(train.subList(0, 320),
                new SimpleDataSourceProvenance("spamminess train sample", factory), factory);
        MutableDataset<Regressor> testData = new MutableDataset<>(test.subList(0, 400),
                new SimpleDataSourceProvenance("spamminess test sample", factory), factory);
        TextPeftTrainer<Regressor> trainer = TextPeftTrainer.regression(PretrainedEncoder.ALL_MINILM_L6_V2,
                LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build())
                .schedule(2, 16, 1e-3f).warmup(0f, LearningRateSchedule.Kind.CONSTANT).seed(42);
        try (TextPeftModel<Regressor> model = trainer.train(trainData)) {
            assertThat(model.generatesProbabilities()).isFalse();
            double mean = train.subList(0, 320).stream().mapToDouble(e -> e.getOutput().getValues()[0]).average()
                    .orElseThrow();
            double constantMse = test.subList(0, 400).stream()
                    .mapToDouble(e -> Math.pow(e.getOutput().getValues()[0] - mean, 2)).average().orElseThrow();
            RegressionEvaluation evaluation = new RegressionEvaluator().evaluate(model, testData);
            double rmse = evaluation.averageRMSE();
            System.out.printf("Tribuo RegressionEvaluator: RMSE %.4f, constant prediction %.4f%n", rmse,
                    Math.sqrt(constantMse));
            assertThat(rmse).isLessThan(0.8 * Math.sqrt(constantMse));
            Model<?> copy = Model.deserialize(model.serialize());
            try (TextPeftModel<?> loaded = (TextPeftModel<?>) copy) {
                assertThat(loaded.castModel(Regressor.class).predict(testData.getExample(3)).getOutput().getValues())
                        .containsExactly(model.predict(testData.getExample(3)).getOutput().getValues());
            }
        }
    }

    private static void assertSameScores(List<Prediction<Label>> expected, List<Prediction<Label>> actual) {
        assertThat(actual).hasSameSizeAs(expected);
        for (int i = 0; i < expected.size(); i++) {
            assertThat(actual.get(i).getOutput().getLabel()).isEqualTo(expected.get(i).getOutput().getLabel());
            for (String label : expected.get(i).getOutputScores().keySet()) {
                assertThat(actual.get(i).getOutputScores().get(label).getScore())
                        .isEqualTo(expected.get(i).getOutputScores().get(label).getScore());
            }
        }
    }
}
