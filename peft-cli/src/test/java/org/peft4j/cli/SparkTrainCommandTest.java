package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.cli.Peft4jCommandTest.Result;

/**
 * {@code peft4j train} with {@code spark_master: local[2]}: LoRA on all-MiniLM-L6-v2 over a slice
 * of the spam data read by Spark, in two replicas; the directory is a usual run's ({@code eval}
 * reproduces its test accuracy); a master that does not answer and other bad input fail with
 * exit status 2.
 */
class SparkTrainCommandTest {
    @TempDir
    static Path dir;
    static Path data;

    @BeforeAll
    static void writeData() throws Exception {
        List<LabeledText> rows = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(rows, new Random(5));
        StringBuilder tsv = new StringBuilder("label\tsplit\ttext\n");
        int[] counts = new int[3];
        String[] splits = {"train", "dev", "test"};
        int[] wanted = {64, 16, 32};
        for (LabeledText r : rows) {
            int s = r.split().equals("train") ? 0 : r.split().equals("dev") ? 1 : 2;
            if (counts[s] < wanted[s]) {
                counts[s]++;
                tsv.append(r.label()).append('\t').append(splits[s]).append('\t')
                        .append(r.text()).append('\n');
            }
        }
        data = dir.resolve("spam-slice.tsv");
        Files.writeString(data, tsv);
    }

    private static Path config(String name, String... extra) throws Exception {
        List<String> lines = new ArrayList<>(List.of("spark_master: local[2]", "dataset: " + data,
                "output_dir: " + dir.resolve(name), "per_device_train_batch_size: 8", "num_train_epochs: 2",
                "cutoff_len: 48", "lora_target: query,value", "plot_loss: true"));
        lines.addAll(List.of(extra));
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }

    @Test
    void twoReplicasTrainAndTheDirectoryIsAUsualRun() throws Exception {
        Result train = Peft4jCommandTest.run("train", config("lora", "save_steps: 3").toString());
        assertThat(train.status()).as(train.err()).isZero();
        System.out.println(train.out());
        Path out = dir.resolve("lora");
        assertThat(out.resolve("adapter_model.safetensors")).exists();
        assertThat(out.resolve("training_loss.png")).exists();
        assertThat(out.resolve("spark_checkpoints")).as("the checkpoints are gone when the run ends").doesNotExist();
        assertThat(Files.readAllLines(out.resolve("trainer_log.jsonl"))).hasSize(8); // 64 rows / 16 x 2 epochs
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        assertThat(results.has("eval_accuracy")).isTrue();
        double testAccuracy = results.get("test_accuracy").asDouble();
        assertThat(testAccuracy).isGreaterThan(0.5);
        // eval on the run's directory scores its test rows again: the same accuracy
        Result eval = Peft4jCommandTest.run("eval", out.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(new ObjectMapper().readTree(eval.out()).get("eval_accuracy").asDouble()).isEqualTo(testAccuracy);

        // the adapter trains further on Spark: adapter_name_or_path
        Result again = Peft4jCommandTest.run("train", config("lora-again", "adapter_name_or_path: " + out,
                "save_steps: 0").toString());
        assertThat(again.status()).as(again.err()).isZero();
        double firstLoss = new ObjectMapper().readTree(Files.readAllLines(out.resolve("trainer_log.jsonl")).get(0))
                .get("loss").asDouble();
        double againLoss = new ObjectMapper().readTree(Files.readAllLines(dir.resolve("lora-again")
                .resolve("trainer_log.jsonl")).get(0)).get("loss").asDouble();
        assertThat(againLoss).isLessThan(firstLoss);
    }

    @Test
    void withoutASplitColumnValSizeHoldsOutDevRowsAndMaxSamplesCapsTheRows() throws Exception {
        // JSON Lines without a split column: 100 rows, val_size 0.2 holds out about 20 as dev data, max_samples 40
        // caps the training rows (32 in whole global batches of 16) and the dev rows; two micro-batches an update:
        // one update an epoch
        StringBuilder jsonl = new StringBuilder();
        List<LabeledText> rows = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(rows, new Random(9));
        ObjectMapper json = new ObjectMapper();
        for (LabeledText r : rows.subList(0, 100)) {
            jsonl.append(json.writeValueAsString(java.util.Map.of("text", r.text(), "label", r.label()))).append('\n');
        }
        Path file = dir.resolve("no-splits.jsonl");
        Files.writeString(file, jsonl);
        Path config = config("held", "val_size: 0.2", "max_samples: 40", "save_steps: 0",
                "gradient_accumulation_steps: 2");
        Files.writeString(config, Files.readString(config).replace("dataset: " + data, "dataset: " + file));
        Result train = Peft4jCommandTest.run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).containsPattern("has no split column: holding out val_size 0.2 of the training rows"
                + " \\(\\d+\\) as dev data").contains("x 2 micro-batches", "2 updates on 32 rows");
        Path out = dir.resolve("held");
        assertThat(Files.readAllLines(out.resolve("trainer_log.jsonl"))).hasSize(2);
        assertThat(new ObjectMapper().readTree(out.resolve("all_results.json").toFile()).has("eval_accuracy")).isTrue();
    }

    @Test
    void badInputFailsWithExitStatus2() throws Exception {
        Path master = dir.resolve("bad-master.yaml");
        Files.writeString(master, Files.readString(config("bad2")).replace("local[2]", "spark://127.0.0.1:9")
                + "spark_workers: 2\n");
        Result noCheckpoints = Peft4jCommandTest.run("train", master.toString());
        assertThat(noCheckpoints.status()).isEqualTo(2);
        assertThat(noCheckpoints.err()).contains("the checkpoints of save_steps must go where every executor reaches");
        Files.writeString(master, Files.readString(master) + "spark_checkpoint_dir: hdfs://namenode/peft4j\n");
        Result noMaster = Peft4jCommandTest.run("train", master.toString());
        assertThat(noMaster.status()).isEqualTo(2);
        assertThat(noMaster.err()).contains("spark_master spark://127.0.0.1:9 does not answer");
        Path alone = dir.resolve("bad-alone.yaml");
        Files.writeString(alone, Files.readString(config("bad6")).replace("spark_master: local[2]\n", "")
                + "spark_checkpoint_dir: /tmp/x\n");
        Result oneProcess = Peft4jCommandTest.run("train", alone.toString());
        assertThat(oneProcess.status()).isEqualTo(2);
        assertThat(oneProcess.err()).contains("spark_checkpoint_dir applies with spark_master");
        Result resume = Peft4jCommandTest.run("train", config("bad7", "resume_from_checkpoint: /tmp/x").toString());
        assertThat(resume.status()).isEqualTo(2);
        assertThat(resume.err()).contains("resume_from_checkpoint is for one-process runs");
        Result column = Peft4jCommandTest.run("train", config("bad3", "text_column: body").toString());
        assertThat(column.status()).isEqualTo(2);
        assertThat(column.err()).contains("has no column \"body\"");
        Result workers = Peft4jCommandTest.run("train", config("bad4", "spark_workers: 0").toString());
        assertThat(workers.status()).isEqualTo(2);
        assertThat(workers.err()).contains("spark_workers must be a positive integer");
        Result tokens = Peft4jCommandTest.run("train", config("bad5", "task_type: TOKEN_CLS").toString());
        assertThat(tokens.status()).isEqualTo(2);
        assertThat(tokens.err()).contains("spark_master trains text classification");
    }
}
