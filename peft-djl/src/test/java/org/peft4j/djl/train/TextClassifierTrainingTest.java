package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import java.nio.file.Files;
import java.nio.file.Path;
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
class TextClassifierTrainingTest {
    @Test
    void accumulationCountsUpdatesAndEarlyStoppingStopsWhenDevAccuracyStalls(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<LabeledText> rows = TinyClassifier.sample(48);
        List<LabeledText> train = rows.subList(0, 32);
        List<LabeledText> dev = rows.subList(32, 48);
        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            BertSequenceClassifier classifier = TinyClassifier.create(model, 0f);
            PeftModel peft = Peft.apply(classifier, LoraConfig.builder().targetModules("query", "value").build());
            TextClassifierTraining training = new TextClassifierTraining(model, peft, tokenizer, List.of("ham", "spam"));
            // a learning rate far too small to change any prediction: dev accuracy cannot improve after epoch 1
            TextClassifierTraining.Settings settings = new TextClassifierTraining.Settings(5, 8, 1e-12f, 0f, 0f,
                    LearningRateSchedule.Kind.CONSTANT, 1f, 2, 1, 1, 7, dir, null);
            List<TextClassifierTraining.EpochReport> reports = training.fit(train, dev, settings, r -> { });

            assertThat(reports).hasSize(2); // epoch 1 sets the best, epoch 2 does not beat it: patience 1 stops
            assertThat(reports.get(0).steps()).isEqualTo(2); // 4 micro-batches of 8, two per update
            assertThat(reports.get(1).devAccuracy()).isEqualTo(reports.get(0).devAccuracy());
            List<String> log = Files.readAllLines(dir.resolve(TrainerLog.FILE));
            // an update line per update (logging_steps 1) and an eval line per epoch: 2 + 1 + 2 + 1
            assertThat(log).hasSize(6);
            assertThat(log.get(0)).contains("\"current_steps\":1", "\"total_steps\":10");
            assertThat(log.get(2)).contains("\"eval_loss\"");
            assertThat(dir.resolve("best").resolve("adapter_model.safetensors")).exists();
            assertThat(dir.resolve(TextClassifierTraining.PLOT_FILE)).exists();
        }
    }
}
