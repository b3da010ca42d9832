package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertConfig;
import org.peft4j.djl.bert.BertModel;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.bert.Pooling;

/** The training loop's bookkeeping on a tiny random encoder: accumulation, early stopping, the log. */
class TextClassifierTrainingTest {
    /** A tiny encoder over MiniLM's real vocabulary, so that its real tokenizer fits. */
    private static final BertConfig TINY = new BertConfig(30522, 16, 1, 2, 32, 128, 2, 1e-12f, 0f, 0f);

    @Test
    void accumulationCountsUpdatesAndEarlyStoppingStopsWhenDevAccuracyStalls(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(3);
        List<LabeledText> rows = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(rows, new Random(1));
        List<LabeledText> train = rows.subList(0, 32);
        List<LabeledText> dev = rows.subList(32, 48);
        try (Model model = Model.newInstance("tiny");
                InputStream json = getClass().getResourceAsStream("/all-minilm-l6-v2-tokenizer.json");
                BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(json, 32)) {
            BertModel encoder = new BertModel(TINY);
            encoder.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
            BertSequenceClassifier classifier = new BertSequenceClassifier(encoder, 2, Pooling.MEAN)
                    .initializeHead(model.getNDManager());
            model.setBlock(classifier);
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
