package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;

/** The training loop's bookkeeping on a tiny random encoder: accumulation, early stopping, the log. */
class TextTrainingTest {
    @Test
    void accumulationCountsUpdatesAndEarlyStoppingStopsWhenDevAccuracyStalls(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<LabeledText> rows = TinyClassifier.sample(48);
        List<LabeledText> train = rows.subList(0, 32);
        List<LabeledText> dev = rows.subList(32, 48);
        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            BertSequenceClassifier classifier = TinyClassifier.create(model, 0f);
            PeftModel peft = Peft.apply(classifier, LoraConfig.builder().targetModules("query", "value").build());
            TextTraining training = new TextTraining(model, peft, tokenizer, List.of("ham", "spam"));
            // a learning rate far too small to change any prediction: dev accuracy cannot improve after epoch 1
            TextTraining.Settings settings = new TextTraining.Settings(5, 8, 1e-12f, 0f, 0f,
                    LearningRateSchedule.Kind.CONSTANT, 1f, 2, 1, 1, 7, dir, null);
            List<TextTraining.EpochReport> reports = training.fit(train, dev, settings, r -> { });

            assertThat(reports).hasSize(2); // epoch 1 sets the best, epoch 2 does not beat it: patience 1 stops
            assertThat(reports.get(0).steps()).isEqualTo(2); // 4 micro-batches of 8, two per update
            assertThat(reports.get(1).devAccuracy()).isEqualTo(reports.get(0).devAccuracy());
            List<String> log = Files.readAllLines(dir.resolve(TrainerLog.FILE));
            // an update line per update (logging_steps 1) and an eval line per epoch: 2 + 1 + 2 + 1
            assertThat(log).hasSize(6);
            assertThat(log.get(0)).contains("\"current_steps\":1", "\"total_steps\":10");
            assertThat(log.get(2)).contains("\"eval_loss\"");
            assertThat(dir.resolve("best").resolve("adapter_model.safetensors")).exists();
            assertThat(dir.resolve(TextTraining.PLOT_FILE)).exists();
        }
    }

    @Test
    void regressionLowersTheMeanSquaredErrorItReports() throws Exception {
        Engine.getInstance().setRandomSeed(5);
        List<LabeledText> rows = new ArrayList<>();
        for (LabeledText r : TinyClassifier.sample(32)) {
            rows.add(new LabeledText(r.text(), r.label().equals("spam") ? "1.0" : "0.0", r.split()));
        }
        try (Model model = Model.newInstance("tiny-regression"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            BertSequenceClassifier regressor = TinyClassifier.create(model, 0f, 1);
            PeftModel peft = Peft.apply(regressor, LoraConfig.builder().targetModules("query", "value")
                    .modulesToSave("classifier").build());
            TextTraining training = TextTraining.regression(model, peft, tokenizer);
            float before = training.evaluate(rows, 8).loss();
            assertThat(before).isCloseTo(meanSquaredError(model, tokenizer, rows), within(1e-5f));
            training.fit(rows, List.of(), new TextTraining.Settings(20, 8, 1e-2f, 0f, 0f,
                    LearningRateSchedule.Kind.CONSTANT, 1f, 1, 1, 0, 7, null, null), r -> { });
            TextTraining.Evaluation after = training.evaluate(rows, 8);
            assertThat(after.metrics()).isNull();
            assertThat(after.loss()).isCloseTo(meanSquaredError(model, tokenizer, rows), within(1e-5f));
            assertThat(after.loss()).isLessThan(before * 0.5f);
            List<LabeledText> bad = List.of(new LabeledText("hello", "lots", ""));
            assertThatThrownBy(() -> training.evaluate(bad, 8)).hasMessageContaining("\"lots\" is not a number");
        }
    }

    /** The mean over texts of (output - target)², from one forward pass each, in double arithmetic. */
    private static float meanSquaredError(Model model, BertTokenizer tokenizer, List<LabeledText> rows) {
        double sum = 0;
        try (NDManager scope = model.getNDManager().newSubManager()) {
            for (LabeledText r : rows) {
                float output = model.getBlock().forward(new ParameterStore(scope, false),
                        tokenizer.encode(scope, List.of(r.text())), false).singletonOrThrow().getFloat();
                sum += Math.pow(output - Double.parseDouble(r.label()), 2);
            }
        }
        return (float) (sum / rows.size());
    }

    @Test
    void meanSquaredErrorLossIsTheMeanOfSquaredDifferences() {
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray predictions = manager.create(new float[] {1, 2, 3, 5}, new Shape(4, 1));
            NDArray targets = manager.create(new float[] {0, 2, 5, 4});
            float loss = new MeanSquaredErrorLoss().evaluate(new NDList(targets), new NDList(predictions)).getFloat();
            assertThat(loss).isEqualTo((1f + 0f + 4f + 1f) / 4);
        }
    }
}
