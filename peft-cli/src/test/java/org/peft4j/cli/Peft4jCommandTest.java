package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * The command end to end on the real all-MiniLM-L6-v2 and a small seeded slice of the spam data:
 * train writes what it promises, eval agrees with train's numbers, predict gives probabilities,
 * export's merged model scores as the adapter did and loads again, bad input fails before any
 * work with one message and exit status 2, and a diverged run fails and writes no adapter.
 */
class Peft4jCommandTest {
    @TempDir
    static Path dir;
    static Path data;
    static Path out;
    static String trainOutput;
    static String trainErr;

    record Result(int status, String out, String err) {}

    static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Peft4j.run(args, new Peft4j.Console(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)));
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
        trainErr = result.err();
    }

    @Test
    void trainWritesTheAdapterLogPlotAndResults() throws Exception {
        assertThat(trainOutput).contains("128 train, 32 dev, 48 test rows", "trainable parameters: 222,338",
                "test accuracy", "adapter written to " + out);
        for (String file : List.of("adapter_config.json", "adapter_model.safetensors", "trainer_log.jsonl",
                "training_loss.png", "all_results.json", RunRecord.FILE, "best/adapter_model.safetensors")) {
            assertThat(out.resolve(file)).exists();
        }
        AdapterCheckpoint adapter = AdapterCheckpoint.load(out);
        assertThat(adapter.tensors()).containsKeys("base_model.model.classifier.weight",
                "base_model.model.bert.pooler.dense.weight");
        // what Python's PEFT needs to rebuild the model: the task, and the base by its hub id
        assertThat(adapter.config().taskType()).isEqualTo(org.peft4j.api.TaskType.SEQ_CLS);
        assertThat(adapter.config().baseModelNameOrPath()).isEqualTo("sentence-transformers/all-MiniLM-L6-v2");
        assertThat(adapter.config().modulesToSave()).containsExactly("classifier", "pooler");
        assertThat(Files.readAllLines(out.resolve("trainer_log.jsonl")).get(0)).contains("\"current_steps\":2");
        // progress on standard error: training, then the dev and test evaluations
        assertThat(trainErr).contains("epoch 1/1 [", "] 8/8 loss ", "\reval [", "] 32/32", "\rtest [", "] 48/48");
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
        assertThat(eval.err()).contains("\reval [", "] 48/48, ");
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
        assertThat(result.err()).contains("\rpredict [", "] 2/2, ");
        for (String line : lines.subList(1, 3)) {
            String[] f = line.split("\t");
            assertThat(Double.parseDouble(f[1]) + Double.parseDouble(f[2])).isCloseTo(1.0, within(1e-5));
            assertThat(f[0]).isEqualTo(Double.parseDouble(f[1]) > Double.parseDouble(f[2]) ? "ham" : "spam");
        }
    }

    @Test
    void exportedModelScoresAsTheAdapterDoesAndLoadsAgain() throws Exception {
        Path merged = dir.resolve("merged");
        Result result = run("export", out.toString(), "--to", merged.toString());
        assertThat(result.status()).as(result.err()).isZero();
        List<String> texts = List.of("Cheap meds, no prescription needed", "Re: the build is broken again");
        float[][] expected;
        try (TrainedModel adapter = TrainedModel.load(out, RunRecord.read(out))) {
            expected = adapter.probabilities(texts, null);
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
        // the tokenizer goes along, byte for byte the bundled one
        try (var bundled = getClass().getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            assertThat(Files.readAllBytes(merged.resolve(TokenizerFiles.TOKENIZER))).isEqualTo(bundled.readAllBytes());
        }
        // eval loads the export as it loads the run, and scores the test split as the adapter did
        Result exported = run("eval", merged.toString());
        assertThat(exported.status()).as(exported.err()).isZero();
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        JsonNode metrics = new ObjectMapper().readTree(exported.out());
        assertThat(metrics.get("eval_accuracy").asDouble()).isEqualTo(results.get("test_accuracy").asDouble());
        assertThat(metrics.get("eval_loss").asDouble()).isCloseTo(results.get("test_loss").asDouble(), within(2e-4));
        // and it serves as another run's base model
        Path config = dir.resolve("on-export.yaml");
        Path second = dir.resolve("on-export");
        Files.writeString(config, "model_name_or_path: " + merged + "\nlora_target: query\ndataset: " + data
                + "\noutput_dir: " + second + "\nnum_train_epochs: 1\ncutoff_len: 16\nmax_samples: 16\nplot_loss: false\n");
        Result train = run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).contains("lora on hugging_face:" + merged.toAbsolutePath(), "16 train, 16 dev, 16 test rows");
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
        assertThat(train.out()).contains("trainable parameters: 1,923,074", "model written to " + freezeOut);
        assertThat(freezeOut.resolve(ClassifierDirectory.WEIGHTS)).exists();
        assertThat(freezeOut.resolve(TokenizerFiles.TOKENIZER)).exists(); // a whole model directory
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
        // max_samples caps each split, as LLaMA-Factory caps each dataset
        assertThat(train.out()).contains("32 train, 32 dev, 32 test rows");
        JsonNode results = new ObjectMapper().readTree(promptOut.resolve("all_results.json").toFile());
        assertThat(results.get("test_samples").asInt()).isEqualTo(32);
        Result eval = run("eval", promptOut.toString(), "--max-samples", "32");
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(new ObjectMapper().readTree(eval.out()).get("eval_accuracy").asDouble())
                .isEqualTo(results.get("test_accuracy").asDouble());
        Result export = run("export", promptOut.toString(), "--to", dir.resolve("prompt-merged").toString());
        assertThat(export.status()).isEqualTo(2);
        assertThat(export.err()).contains("only an adapter on the model's weights merges into them (lora, ia3); a prompt adapter");
    }

    @Test
    void ia3TrainsThroughTheMethodRegistryAndMergesOnExport() throws Exception {
        Path ia3Out = dir.resolve("ia3");
        Path config = dir.resolve("ia3.yaml");
        Files.writeString(config, "finetuning_type: ia3\nlora_target: key,value\nmax_samples: 16\ndataset: " + data
                + "\noutput_dir: " + ia3Out + "\nnum_train_epochs: 1\ncutoff_len: 32\n");
        Result train = run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        // 6 layers x (key + value) x [384, 1], plus the head: pooler 384 x 384 + 384, classifier 2 x 384 + 2
        assertThat(train.out()).contains("ia3 on ", "trainable parameters: " + String.format(java.util.Locale.ROOT, "%,d",
                6 * 2 * 384 + 384 * 384 + 384 + 2 * 384 + 2));
        AdapterCheckpoint adapter = AdapterCheckpoint.load(ia3Out);
        assertThat(adapter.config().peftType()).isEqualTo(org.peft4j.api.PeftType.IA3);
        assertThat(adapter.tensors().get("base_model.model.bert.encoder.layer.5.attention.self.key.ia3_l").shape())
                .containsExactly(384, 1);
        Path merged = dir.resolve("ia3-merged");
        Result export = run("export", ia3Out.toString(), "--to", merged.toString());
        assertThat(export.status()).as(export.err()).isZero();
        JsonNode results = new ObjectMapper().readTree(ia3Out.resolve("all_results.json").toFile());
        Result eval = run("eval", merged.toString(), "--max-samples", "16");
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode metrics = new ObjectMapper().readTree(eval.out());
        assertThat(metrics.get("eval_accuracy").asDouble()).isEqualTo(results.get("test_accuracy").asDouble());
        assertThat(metrics.get("eval_loss").asDouble()).isCloseTo(results.get("test_loss").asDouble(), within(2e-4));
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
        Result frobnicate = run("frobnicate");
        assertThat(frobnicate.status()).isEqualTo(2);
        assertThat(frobnicate.err()).contains("Unmatched argument at index 0: 'frobnicate'");
        Result noTo = run("export", out.toString());
        assertThat(noTo.status()).isEqualTo(2);
        assertThat(noTo.err()).contains("Missing required option: '--to=DIR'");
    }


    @Test
    void helpVersionAndSuggestions() {
        Result version = run("--version");
        assertThat(version.status()).isZero();
        assertThat(version.out().trim()).isEqualTo("peft4j " + System.getProperty("peft4j.version"));
        Result help = run("train", "--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("Usage: peft4j train", "CONFIG.yaml",
                "Config keys: model_name_or_path, finetuning_type, lora_rank");
        assertThat(run("eval", "--help").out()).contains("Usage: peft4j eval", "--max-samples=N", "--split=NAME");
        assertThat(run("predict", "--help").out()).contains("--input=FILE", "--output=FILE");
        assertThat(run("export", "--help").out()).contains("--to=DIR");
        Result typo = run("trian", "x.yaml");
        assertThat(typo.status()).isEqualTo(2);
        assertThat(typo.err()).contains("Unmatched arguments from index 0: 'trian', 'x.yaml'", "Did you mean: peft4j train");
        Result none = run();
        assertThat(none.status()).isEqualTo(2);
        assertThat(none.err()).contains("missing command: train, eval, predict, export, merge-adapters, extract-lora, generate or chat");
    }

    @Test
    void aRunResumedFromACheckpointEndsWithTheUninterruptedAdapter() throws Exception {
        // 48 training rows, batch 8: 6 updates an epoch, 12 in all; dropout on (the encoder's and LoRA's)
        String yaml = "finetuning_type: lora\nlora_target: query,value\nlora_dropout: 0.1\nmax_samples: 48\n"
                + "per_device_train_batch_size: 8\nnum_train_epochs: 2\ncutoff_len: 32\nsave_steps: 4\nlogging_steps: 2\n";
        Path whole = dir.resolve("whole");
        Result first = run("train", config("whole.yaml", whole, yaml).toString());
        assertThat(first.status()).as(first.err()).isZero();
        for (int update : new int[] {4, 8, 12}) {
            Path checkpoint = whole.resolve("checkpoint-" + update);
            assertThat(checkpoint.resolve("training_state.safetensors")).exists();
            assertThat(AdapterCheckpoint.load(checkpoint).tensors()).isNotEmpty(); // a checkpoint is an adapter too
        }
        Path resumed = dir.resolve("resumed");
        Result second = run("train", config("resumed.yaml", resumed, yaml + "resume_from_checkpoint: "
                + whole.resolve("checkpoint-8") + "\n").toString());
        assertThat(second.status()).as(second.err()).isZero();
        assertThat(resumed.resolve("checkpoint-4")).doesNotExist(); // updates 1 to 8 were not computed again
        assertThat(resumed.resolve("checkpoint-12")).exists();
        AdapterCheckpoint expected = AdapterCheckpoint.load(whole);
        AdapterCheckpoint actual = AdapterCheckpoint.load(resumed);
        for (var e : expected.tensors().entrySet()) {
            assertThat(actual.tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                    .containsExactly(e.getValue().toFloatArray());
        }
        // the log of the resumed run holds every update's loss, the replayed ones too, as the whole run's does
        assertThat(logLosses(resumed)).isEqualTo(logLosses(whole)).hasSize(6); // logging_steps 2
        failsWithOneLine(dir.resolve("not-resumed"), new String[] {"train", config("not-a-checkpoint.yaml",
                dir.resolve("not-resumed"), yaml + "resume_from_checkpoint: " + whole + "\n").toString()},
                "resume_from_checkpoint " + whole + " is not a checkpoint directory");
    }

    /** The loss lines of a run's {@code trainer_log.jsonl}: update to loss. */
    private static java.util.Map<Integer, Double> logLosses(Path run) throws Exception {
        java.util.Map<Integer, Double> out = new java.util.TreeMap<>();
        for (String line : Files.readAllLines(run.resolve("trainer_log.jsonl"))) {
            JsonNode json = new ObjectMapper().readTree(line);
            if (json.has("loss")) {
                out.put(json.get("current_steps").asInt(), json.get("loss").asDouble());
            }
        }
        return out;
    }

    /** Writes a config for the slice: dataset on line 1, output_dir on line 2, then {@code yaml}. */
    private static Path config(String name, Path outputDir, String yaml) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, "dataset: " + data + "\noutput_dir: " + outputDir + "\n" + yaml);
        return file;
    }

    /** A bad input's failure: status 2, one line on standard error naming what is given, nothing written. */
    private static void failsWithOneLine(Path outputDir, String[] args, String... expected) {
        Result r = run(args);
        assertThat(r.status()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("peft4j " + args[0] + ": ").contains(expected).doesNotContain("\tat ");
        assertThat(Files.exists(outputDir)).as(outputDir + " exists").isFalse();
    }

    @Test
    void badConfigsFailBeforeAnyWorkWithOneMessageAndStatusTwo() throws Exception {
        Path never = dir.resolve("never-written");
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("num_train_epochs: 4294967297\n", ", line 3: num_train_epochs must be a whole number between"
                + " -2147483648 and 2147483647, got 4294967297");
        cases.put("seed: 1\nseed: 2\n", ", line 4: not valid YAML for a config: Duplicate field 'seed'");
        // checked against the model's own dimensions, before anything is trained or written
        cases.put("cutoff_len: 100000\n", ", line 3: cutoff_len 100000 is more than the 512 positions");
        cases.put("lora_rank: 1e8\n", ", line 3: lora_rank 100000000 is larger than the layers it adapts");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Path file = config("bad.yaml", never, c.getKey());
            failsWithOneLine(never, new String[] {"train", file.toString()}, file + c.getValue());
        }
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "dataset: " + data + "\noutput_dir: \"\"\n");
        failsWithOneLine(never, new String[] {"train", file.toString()}, file + ", line 2: output_dir must name a directory");

        Path blocker = dir.resolve("a-file");
        Files.writeString(blocker, "not a directory");
        file = config("bad.yaml", blocker.resolve("out"), "");
        failsWithOneLine(blocker.resolve("out"), new String[] {"train", file.toString()},
                "output_dir " + blocker.resolve("out") + " cannot be written");

        Path latin1 = dir.resolve("latin1.tsv");
        Files.write(latin1, "label\ttext\nham\tcaf\u00e9 au lait\n".getBytes(StandardCharsets.ISO_8859_1));
        Files.writeString(file, "dataset: " + latin1 + "\noutput_dir: " + never + "\n");
        failsWithOneLine(never, new String[] {"train", file.toString()}, latin1 + ", line 2: not UTF-8 text");
        Files.write(file, ("dataset: " + data + "\n# caf\u00e9\n").getBytes(StandardCharsets.ISO_8859_1));
        failsWithOneLine(never, new String[] {"train", file.toString()}, file + ", line 2: not UTF-8 text");
    }

    @Test
    void aSecondTrainIntoAnOutputDirThatAnotherProcessHoldsFails() throws Exception {
        Path held = dir.resolve("held");
        Process holder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), LockHolder.class.getName(), held.toString())
                .redirectErrorStream(true).start();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(holder.getInputStream(),
                StandardCharsets.UTF_8))) {
            assertThat(lines.readLine()).isEqualTo("locked");
            Result second = run("train", config("held.yaml", held, "").toString());
            assertThat(second.status()).isEqualTo(2);
            assertThat(second.err()).contains("output_dir " + held + " is in use by another peft4j train (process "
                    + holder.pid() + "); wait for it to end or choose another output_dir");
        } finally {
            holder.getOutputStream().close();
            assertThat(holder.waitFor()).isZero();
        }
        // the system released the lock with its process: the directory can be held again
        try (OutputLock lock = OutputLock.acquire(held)) {
            assertThat(held.resolve(OutputLock.FILE)).exists();
        }
    }

    @Test
    void aDivergedRunExitsWithOneAndWritesNoAdapter() throws Exception {
        Path diverged = dir.resolve("diverged");
        Result r = run("train", config("diverged.yaml", diverged, "learning_rate: 1e25\nmax_samples: 32\n"
                + "lora_target: query,value\nnum_train_epochs: 1\ncutoff_len: 32\nlr_scheduler_type: constant\n"
                + "warmup_ratio: 0\n").toString());
        assertThat(r.status()).as(r.err()).isEqualTo(1);
        assertThat(r.err()).contains("peft4j train: training diverged: ", "lower the learning rate (learning_rate 1.00e+25)")
                .doesNotContain("\tat ");
        for (String file : List.of("adapter_config.json", "adapter_model.safetensors", "best", "all_results.json",
                RunRecord.FILE)) {
            assertThat(diverged.resolve(file)).doesNotExist();
        }
    }

    @Test
    void withoutDevRowsAndValSizeZeroTheRunSaysSoOnceAndKeepsNoBest() throws Exception {
        Path trainAndTest = dir.resolve("train-test.tsv");
        List<String> lines = Files.readAllLines(data);
        lines.removeIf(line -> line.contains("\tdev\t"));
        Files.write(trainAndTest, lines);
        Path noDev = dir.resolve("no-dev");
        Path file = dir.resolve("no-dev.yaml");
        Files.writeString(file, "dataset: " + trainAndTest + "\noutput_dir: " + noDev + "\nval_size: 0\nmax_samples: 16\n"
                + "num_train_epochs: 2\ncutoff_len: 16\nplot_loss: false\n");
        Result r = run("train", file.toString());
        assertThat(r.status()).as(r.err()).isZero();
        String note = trainAndTest + " has no dev rows and val_size is 0: no dev set";
        assertThat(r.out()).containsOnlyOnce(note).contains("16 train, 0 dev, 16 test rows", "epoch 2: train loss ")
                .doesNotContain("NaN", "dev loss");
        assertThat(noDev.resolve("best")).doesNotExist();
        assertThat(noDev.resolve("adapter_model.safetensors")).exists();
    }

    @Test
    void damagedOrMissingRunDirectoriesFailWithStatusTwo() throws Exception {
        Path missing = dir.resolve("no-such-run");
        for (String[] args : List.of(new String[] {"eval", missing.toString()},
                new String[] {"predict", missing.toString(), "--input", data.toString()},
                new String[] {"export", missing.toString(), "--to", dir.resolve("nowhere").toString()})) {
            failsWithOneLine(missing, args, missing + " does not exist; expected the output_dir of a peft4j train run");
        }
        Path damaged = dir.resolve("damaged");
        Files.createDirectories(damaged);
        for (String file : List.of(RunRecord.FILE, "adapter_config.json", "adapter_model.safetensors")) {
            Files.copy(out.resolve(file), damaged.resolve(file));
        }
        String record = Files.readString(damaged.resolve(RunRecord.FILE));
        Files.writeString(damaged.resolve(RunRecord.FILE), record.substring(0, record.length() / 2));
        Result truncatedRecord = run("eval", damaged.toString());
        assertThat(truncatedRecord.status()).isEqualTo(2);
        assertThat(truncatedRecord.err()).contains(damaged.resolve(RunRecord.FILE) + " is damaged: ").doesNotContain("\tat ");
        Files.writeString(damaged.resolve(RunRecord.FILE), record.replace("\"labels\"", "\"classes\""));
        assertThat(run("predict", damaged.toString(), "--input", data.toString()).err())
                .contains(RunRecord.FILE + " is damaged: missing key \"labels\"");

        Files.writeString(damaged.resolve(RunRecord.FILE), record);
        byte[] weights = Files.readAllBytes(damaged.resolve("adapter_model.safetensors"));
        Files.write(damaged.resolve("adapter_model.safetensors"), java.util.Arrays.copyOf(weights, 100));
        Result truncatedWeights = run("eval", damaged.toString());
        assertThat(truncatedWeights.status()).isEqualTo(2);
        assertThat(truncatedWeights.err()).contains(damaged + " holds a damaged or incomplete run: ").doesNotContain("\tat ");
        Files.delete(damaged.resolve("adapter_model.safetensors"));
        Result noWeights = run("export", damaged.toString(), "--to", dir.resolve("nowhere").toString());
        assertThat(noWeights.status()).isEqualTo(2);
        assertThat(noWeights.err()).contains(damaged + " holds a damaged or incomplete run: ").doesNotContain("\tat ");
    }

    @Test
    void evalReportsOutputsThatAreNotFiniteAsSuchAndFails() throws Exception {
        // a whole model whose head's weights are finite but whose logits overflow to infinity
        Path overflow = dir.resolve("overflow");
        assertThat(run("export", out.toString(), "--to", overflow.toString()).status()).isZero();
        Path weights = overflow.resolve(ClassifierDirectory.WEIGHTS);
        Map<String, Tensor> tensors = new LinkedHashMap<>(SafeTensors.read(weights).tensors());
        float[] huge = new float[2 * 384];
        java.util.Arrays.fill(huge, 3e38f);
        tensors.put("classifier.weight", Tensor.ofFloats(new long[] {2, 384}, huge));
        Files.write(weights, new SafeTensors(tensors, SafeTensors.PT_METADATA).toBytes());
        Result r = run("eval", overflow.toString());
        assertThat(r.status()).as(r.err()).isEqualTo(1);
        JsonNode metrics = new ObjectMapper().readTree(r.out());
        assertThat(metrics.get("eval_loss").isTextual()).as(r.out()).isTrue();
        assertThat(metrics.get("eval_loss").asText()).isEqualTo("NaN"); // never Math.round(NaN) = 0
        assertThat(r.err()).contains("peft4j eval: eval_loss NaN: the model's outputs are not finite");
    }
}
