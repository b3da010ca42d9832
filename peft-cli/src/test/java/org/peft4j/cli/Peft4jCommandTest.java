package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.djl.bert.ClassifierDirectory;
import org.peft4j.djl.bert.PretrainedEncoder;

/**
 * The command end to end on the real all-MiniLM-L6-v2 and a small seeded slice of the spam data:
 * train writes what it promises, eval agrees with train's numbers, predict gives probabilities,
 * export's merged model scores as the adapter did, and bad input fails before training with a
 * message and exit status 2.
 */
class Peft4jCommandTest {
    @TempDir
    static Path dir;
    static Path data;
    static Path out;
    static String trainOutput;

    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = new Peft4j(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)).run(args);
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @BeforeAll
    static void trainOnce() throws Exception {
        List<LabeledText> rows = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(rows, new Random(3));
        StringBuilder tsv = new StringBuilder("label\tsplit\ttext\n");
        int[] counts = new int[3];
        String[] splits = {"train", "dev", "test"};
        int[] wanted = {128, 32, 48};
        for (LabeledText r : rows) {
            int s = r.split().equals("train") ? 0 : r.split().equals("dev") ? 1 : 2;
            if (counts[s] < wanted[s]) {
                counts[s]++;
                tsv.append(r.label()).append('\t').append(splits[s]).append('\t').append(r.text()).append('\n');
            }
        }
        data = dir.resolve("spam-slice.tsv");
        Files.writeString(data, tsv);
        out = dir.resolve("run");
        Path config = dir.resolve("lora.yaml");
        Files.writeString(config, "finetuning_type: lora\nlora_target: query,value\nlora_alpha: 16\ndataset: " + data
                + "\noutput_dir: " + out + "\nnum_train_epochs: 1\nlr_scheduler_type: constant\nwarmup_ratio: 0\n"
                + "cutoff_len: 32\nlogging_steps: 2\n");
        Result result = run("train", config.toString());
        assertThat(result.status()).as(result.err()).isZero();
        trainOutput = result.out();
    }

    @Test
    void trainWritesTheAdapterLogPlotAndResults() throws Exception {
        assertThat(trainOutput).contains("128 train, 32 dev, 48 test rows", "trainable parameters: 74,498",
                "test accuracy", "adapter written to " + out);
        for (String file : List.of("adapter_config.json", "adapter_model.safetensors", "trainer_log.jsonl",
                "training_loss.png", "all_results.json", TrainedModel.RUN_FILE, "best/adapter_model.safetensors")) {
            assertThat(out.resolve(file)).exists();
        }
        assertThat(AdapterCheckpoint.load(out).tensors()).containsKey("base_model.model.classifier.weight");
        assertThat(Files.readAllLines(out.resolve("trainer_log.jsonl")).get(0)).contains("\"current_steps\":2");
    }

    @Test
    void evalReproducesTheTestNumbersOfTraining() throws Exception {
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        Result eval = run("eval", out.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode metrics = new ObjectMapper().readTree(eval.out());
        assertThat(metrics.get("eval_samples").asInt()).isEqualTo(48);
        assertThat(metrics.get("eval_accuracy").asDouble()).isEqualTo(results.get("test_accuracy").asDouble());
        assertThat(metrics.get("eval_loss").asDouble()).isEqualTo(results.get("test_loss").asDouble());
    }

    @Test
    void predictWritesLabelsWithProbabilities() throws Exception {
        Path input = dir.resolve("in.jsonl");
        Files.writeString(input, "{\"text\": \"WIN a FREE cruise!!! Click now to claim your prize\"}\n"
                + "{\"text\": \"Minutes of Tuesday's meeting attached, comments welcome\"}\n");
        Path predictions = dir.resolve("p.tsv");
        Result result = run("predict", out.toString(), "--input", input.toString(), "--output", predictions.toString());
        assertThat(result.status()).as(result.err()).isZero();
        List<String> lines = Files.readAllLines(predictions);
        assertThat(lines.get(0)).isEqualTo("label\tp_ham\tp_spam\ttext");
        assertThat(lines).hasSize(3);
        for (String line : lines.subList(1, 3)) {
            String[] f = line.split("\t");
            assertThat(Double.parseDouble(f[1]) + Double.parseDouble(f[2])).isCloseTo(1.0, within(1e-5));
            assertThat(f[0]).isEqualTo(Double.parseDouble(f[1]) > Double.parseDouble(f[2]) ? "ham" : "spam");
        }
    }

    @Test
    void exportedModelScoresAsTheAdapterDoes() throws Exception {
        Path merged = dir.resolve("merged");
        Result result = run("export", out.toString(), "--to", merged.toString());
        assertThat(result.status()).as(result.err()).isZero();
        List<String> texts = List.of("Cheap meds, no prescription needed", "Re: the build is broken again");
        float[][] expected;
        try (TrainedModel adapter = TrainedModel.load(out)) {
            expected = adapter.probabilities(texts);
        }
        try (Model model = Model.newInstance("merged");
                var tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(32)) {
            ClassifierDirectory.Loaded loaded = ClassifierDirectory.load(merged, model.getNDManager());
            assertThat(loaded.labels()).containsExactly("ham", "spam");
            model.setBlock(loaded.classifier());
            try (var scope = model.getNDManager().newSubManager()) {
                float[] actual = loaded.classifier().forward(new ai.djl.training.ParameterStore(scope, false),
                        tokenizer.encode(scope, texts), false).singletonOrThrow().softmax(1).toFloatArray();
                for (int i = 0; i < texts.size(); i++) {
                    for (int c = 0; c < 2; c++) {
                        assertThat(actual[i * 2 + c]).isCloseTo(expected[i][c], within(1e-5f));
                    }
                }
            }
        }
    }

    @Test
    void freezeTuningWritesAWholeModelThatEvalLoads() throws Exception {
        Path freezeOut = dir.resolve("freeze");
        Path config = dir.resolve("freeze.yaml");
        Files.writeString(config, "finetuning_type: freeze\nfreeze_trainable_layers: 1\ndataset: " + data
                + "\noutput_dir: " + freezeOut + "\nnum_train_epochs: 1\ncutoff_len: 32\nlearning_rate: 1e-4\n"
                + "plot_loss: false\n");
        Result train = run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        // one of six layers (12 matrices and 4 norms: 1,774,464 values) and the head (770)
        assertThat(train.out()).contains("trainable parameters: 1,775,234", "model written to " + freezeOut);
        assertThat(freezeOut.resolve(ClassifierDirectory.WEIGHTS)).exists();
        assertThat(freezeOut.resolve("training_loss.png")).doesNotExist();
        JsonNode results = new ObjectMapper().readTree(freezeOut.resolve("all_results.json").toFile());
        Result eval = run("eval", freezeOut.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(new ObjectMapper().readTree(eval.out()).get("eval_accuracy").asDouble())
                .isEqualTo(results.get("test_accuracy").asDouble());
    }

    @Test
    void promptAdaptersAreNotExportedAsMergedModels() throws Exception {
        Path promptOut = dir.resolve("prompt");
        Path config = dir.resolve("prompt.yaml");
        Files.writeString(config, "finetuning_type: prompt\nnum_virtual_tokens: 4\nmax_samples: 32\ndataset: " + data
                + "\noutput_dir: " + promptOut + "\nnum_train_epochs: 1\ncutoff_len: 32\n");
        Result train = run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).contains("32 train, 32 dev, 48 test rows");
        Result export = run("export", promptOut.toString(), "--to", dir.resolve("prompt-merged").toString());
        assertThat(export.status()).isEqualTo(2);
        assertThat(export.err()).contains("only a LoRA adapter merges into the weights; a prompt adapter");
    }

    @Test
    void badInputFailsWithAMessageAndStatusTwo() throws Exception {
        Path unknownLabel = dir.resolve("unknown.tsv");
        Files.writeString(unknownLabel, "label\ttext\nphishing\tverify your account\n");
        Result eval = run("eval", out.toString(), "--dataset", unknownLabel.toString());
        assertThat(eval.status()).isEqualTo(2);
        assertThat(eval.err()).contains("labels the model was not trained on: [phishing]; it knows [ham, spam]");

        Path noColumn = dir.resolve("nocol.csv");
        Files.writeString(noColumn, "body\nhello\n");
        Result predict = run("predict", out.toString(), "--input", noColumn.toString());
        assertThat(predict.status()).isEqualTo(2);
        assertThat(predict.err()).contains("no \"text\" column; the file has [body]");

        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "dataset: " + data + "\noutput_dir: " + dir.resolve("never") + "\nlearning_rte: 1\n");
        Result train = run("train", config.toString());
        assertThat(train.status()).isEqualTo(2);
        assertThat(train.err()).contains("did you mean \"learning_rate\"?");
        assertThat(dir.resolve("never")).doesNotExist();

        Files.writeString(config, "dataset: " + data + "\noutput_dir: " + dir.resolve("never") + "\ntext_column: body\n");
        assertThat(run("train", config.toString()).err()).contains("no \"body\" column; the file has [label, split, text]");
        assertThat(run("frobnicate").err()).contains("unknown command \"frobnicate\"");
        assertThat(run("export", out.toString()).err()).contains("missing option --to");
        assertThat(run("eval", dir.resolve("empty").toString()).err()).contains("holds no model trained by peft4j");
    }
}
