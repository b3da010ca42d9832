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
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
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
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;

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
            PeftModel peft = Peft.apply(classifier, LoraConfig.builder().setTargetModules("query", "value").build());
            TextTraining training = new TextTraining(model, peft, tokenizer, List.of("ham", "spam"));
            // a learning rate far too small to change any prediction: dev accuracy cannot improve after epoch 1
            FineTuning.Settings settings = FineTuning.Settings.builder().setEpochs(5).setBatchSize(8)
                    .setLearningRate(1e-12f).optScheduler(LearningRateSchedule.Kind.CONSTANT)
                    .optGradientAccumulationSteps(2).optLoggingSteps(1).optEarlyStoppingPatience(1).optSeed(7)
                    .optOutputDir(dir).build();
            List<FineTuning.EpochReport> reports = training.fit(train, dev, settings, r -> { });

            assertThat(reports).hasSize(2); // epoch 1 sets the best, epoch 2 does not beat it: patience 1 stops
            assertThat(reports.get(0).steps()).isEqualTo(2); // 4 micro-batches of 8, two per update
            assertThat(reports.get(1).devMetric("accuracy")).isEqualTo(reports.get(0).devMetric("accuracy"));
            List<String> log = Files.readAllLines(dir.resolve(TrainerLog.FILE));
            // an update line per update (logging_steps 1) and an eval line per epoch: 2 + 1 + 2 + 1
            assertThat(log).hasSize(6);
            assertThat(log.get(0)).contains("\"current_steps\":1", "\"total_steps\":10");
            assertThat(log.get(2)).contains("\"eval_loss\"");
            assertThat(dir.resolve("best").resolve("adapter_model.safetensors")).exists();
            assertThat(dir.resolve(FineTuning.PLOT_FILE)).exists();
        }
    }

    @Test
    void aRunShorterThanLoggingStepsWithoutDevDataLogsItsLossAndNeverStopsEarly(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<LabeledText> train = TinyClassifier.sample(16);
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            PeftModel peft = Peft.apply(TinyClassifier.create(model, 0f), LoraConfig.builder()
                    .setTargetModules("query", "value").build());
            TextTraining training = new TextTraining(model, peft, tokenizer, List.of("ham", "spam"));
            // 2 updates an epoch, 3 epochs: 6 updates, fewer than logging_steps; patience 1 without dev data
            List<FineTuning.EpochReport> reports = training.fit(train, List.of(), FineTuning.Settings.builder()
                    .setEpochs(3).setBatchSize(8).setLearningRate(1e-3f).optLoggingSteps(10)
                    .optEarlyStoppingPatience(1).optOutputDir(dir)
                    .optProgress(new PrintStream(progress, true, StandardCharsets.UTF_8)).build(), r -> { });

            assertThat(reports).hasSize(3).noneMatch(FineTuning.EpochReport::hasDev);
            List<String> log = Files.readAllLines(dir.resolve(TrainerLog.FILE));
            assertThat(log).hasSize(1); // the final, partial window
            assertThat(log.get(0)).contains("\"current_steps\":6", "\"total_steps\":6", "\"loss\":");
            assertThat(dir.resolve(FineTuning.PLOT_FILE)).exists();
            assertThat(dir.resolve("best")).doesNotExist(); // nothing to choose a best epoch on
            assertThat(progress.toString(StandardCharsets.UTF_8)).contains("\repoch 3/3 [", "] 2/2 loss ");
        }
    }

    @Test
    void aDivergedRunFailsAndSavesNoAdapter(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<LabeledText> rows = TinyClassifier.sample(32);
        for (List<LabeledText> dev : List.of(rows.subList(16, 32), List.<LabeledText>of())) {
            try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
                PeftModel peft = Peft.apply(TinyClassifier.create(model, 0f), LoraConfig.builder()
                        .setTargetModules("query", "value").optModulesToSave("classifier").build());
                TextTraining training = new TextTraining(model, peft, tokenizer, List.of("ham", "spam"));
                // two updates of 8 rows: the first moves B to about 1e15, the second A, and no training loss is
                // computed after that: B·A overflows in the forward pass, which only the outputs show
                FineTuning.Settings settings = FineTuning.Settings.builder().setEpochs(1).setBatchSize(8)
                        .setLearningRate(1e15f).optScheduler(LearningRateSchedule.Kind.CONSTANT).optOutputDir(dir)
                        .build();
                assertThatThrownBy(() -> training.fit(rows.subList(0, 16), dev, settings, r -> { }))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageStartingWith("training diverged: the model's outputs on training rows are not finite")
                        .hasMessageContaining("lower the learning rate (learning_rate 1.00e+15)");
                assertThat(dir.resolve("best")).doesNotExist();
            }
        }
    }

    @Test
    void settingsNameWhatIsMissingOrOutOfRange() {
        assertThatThrownBy(() -> FineTuning.Settings.builder().setBatchSize(8).setLearningRate(1e-3f).build())
                .hasMessage("num_train_epochs is not set: call setEpochs");
        FineTuning.Settings.Builder base = FineTuning.Settings.builder().setEpochs(1).setBatchSize(8)
                .setLearningRate(1e-3f);
        FineTuning.Settings defaults = base.build();
        assertThat(defaults.scheduler()).isEqualTo(LearningRateSchedule.Kind.LINEAR);
        assertThat(defaults.maxGradNorm()).isEqualTo(1f);
        assertThat(defaults.loggingSteps()).isEqualTo(10);
        assertThat(defaults.outputDir()).isNull();
        assertThatThrownBy(() -> base.optWarmupRatio(1.5f).build()).hasMessage("warmup_ratio must be in [0, 1), got 1.5");
        assertThatThrownBy(() -> base.optWarmupRatio(0f).setLearningRate(Float.NaN).build())
                .hasMessage("learning_rate must be a positive number, got NaN");
        assertThatThrownBy(() -> base.setLearningRate(1e-3f).optGradientAccumulationSteps(0).build())
                .hasMessage("gradient_accumulation_steps must be a positive integer, got 0");
    }

    @Test
    void theProgressBarShowsTheShareDoneAndTheTimeLeftAtThePaceSoFar() {
        ProgressBar bar = new ProgressBar(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8),
                "test", 200);
        // 50 of 200 in 10 s: 7 of 30 marks, 150 left at 0.2 s each = 30 s
        assertThat(bar.line(50, "", 10.0)).isEqualTo("test [#######.......................] 50/200, 0:00:30 left");
        assertThat(bar.line(200, "loss 0.5000", 40.0)).isEqualTo("test [" + "#".repeat(30) + "] 200/200 loss 0.5000,"
                + " 0:00:00 left");
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
            PeftModel peft = Peft.apply(regressor, LoraConfig.builder().setTargetModules("query", "value")
                    .optModulesToSave("classifier").build());
            TextTraining training = TextTraining.regression(model, peft, tokenizer);
            float before = training.evaluate(rows, 8).loss();
            assertThat(before).isCloseTo(meanSquaredError(model, tokenizer, rows), within(1e-5f));
            training.fit(rows, List.of(), FineTuning.Settings.builder().setEpochs(20).setBatchSize(8)
                    .setLearningRate(1e-2f).optScheduler(LearningRateSchedule.Kind.CONSTANT).optSeed(7).build(), r -> { });
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
