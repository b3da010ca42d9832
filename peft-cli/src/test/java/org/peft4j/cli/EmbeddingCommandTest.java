package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;

/**
 * {@code peft4j train} with {@code task_type: FEATURE_EXTRACTION} end to end on the real
 * all-MiniLM-L6-v2 and a few spam (subject, body) pairs, and the checks of its keys.
 */
class EmbeddingCommandTest {
    @TempDir
    Path dir;

    @Test
    void trainWritesAFeatureExtractionAdapterAndRetrievalResults() throws Exception {
        Path out = dir.resolve("run");
        Path config = dir.resolve("embeddings.yaml");
        Files.writeString(config, "task_type: feature_extraction\nfinetuning_type: lora\nlora_target: query,value\n"
                + "dataset: " + Path.of("../data/spamassassin.tsv").toAbsolutePath() + "\npair_separator: \" | \"\n"
                + "output_dir: " + out + "\nnum_train_epochs: 1\nper_device_train_batch_size: 8\ncutoff_len: 24\n"
                + "max_samples: 24\nplot_loss: false\n");
        Peft4jCommandTest.Result result = Peft4jCommandTest.run("train", config.toString());
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out()).contains("lora sentence embeddings (mean+normalize pooling)", "24 train, 24 dev, 24 test pairs",
                "dev recall@10", "test recall@1", "(24 pairs); base model", "adapter written to " + out);
        AdapterCheckpoint adapter = AdapterCheckpoint.load(out);
        assertThat(adapter.config().taskType()).isEqualTo(TaskType.FEATURE_EXTRACTION);
        assertThat(adapter.config().baseModelNameOrPath()).isEqualTo("sentence-transformers/all-MiniLM-L6-v2");
        assertThat(adapter.config().modulesToSave()).isNullOrEmpty();
        assertThat(adapter.tensors().keySet()).allMatch(k -> k.startsWith("base_model.model.encoder.layer."));
        assertThat(out.resolve("best/adapter_model.safetensors")).exists();
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        for (String prefix : new String[] {"base_eval", "base_test", "eval", "test"}) {
            for (String metric : new String[] {"loss", "recall@1", "recall@10", "mrr@10"}) {
                assertThat(results.has(prefix + "_" + metric)).as(prefix + "_" + metric).isTrue();
            }
            assertThat(results.get(prefix + "_recall@10").asDouble()).isBetween(results.get(prefix + "_recall@1").asDouble(), 1.0);
            assertThat(results.get(prefix + "_samples").asInt()).isEqualTo(24);
        }
        assertThat(Files.readString(out.resolve("trainer_log.jsonl"))).contains("\"recall@10\"");

        // the run records itself, so eval reproduces the test figures on the same sample of the test pairs
        JsonNode record = new ObjectMapper().readTree(out.resolve(RunRecord.FILE).toFile());
        assertThat(record.get("task_type").asText()).isEqualTo("FEATURE_EXTRACTION");
        assertThat(record.get("pair_separator").asText()).isEqualTo(" | ");
        assertThat(record.get("labels").size()).isZero();
        Peft4jCommandTest.Result eval = Peft4jCommandTest.run("eval", out.toString(), "--max-samples", "24");
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode scores = new ObjectMapper().readTree(eval.out());
        for (String metric : new String[] {"recall@1", "recall@10", "mrr@10", "samples"}) {
            assertThat(scores.get("eval_" + metric).asDouble()).as(metric).isEqualTo(results.get("test_" + metric).asDouble());
        }
    }

    private TrainArguments read(String yaml) throws Exception {
        Files.writeString(dir.resolve("pairs.tsv"), "anchor\tpositive\nq\ta\n");
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "dataset: " + dir.resolve("pairs.tsv") + "\noutput_dir: " + dir.resolve("out") + "\n" + yaml);
        return ConfigFile.read(file).arguments();
    }

    @Test
    void taskTypeAndPairKeysAreChecked() throws Exception {
        TrainArguments defaults = read("lora_rank: 4\n");
        assertThat(defaults.taskType()).isEqualTo("SEQ_CLS");
        assertThat(defaults.isFeatureExtraction()).isFalse();
        assertThat(defaults.positiveColumn()).isEqualTo("positive");
        assertThat(defaults.pairSeparator()).isNull();
        TrainArguments bge = read("task_type: FEATURE_EXTRACTION\nmodel_name_or_path: BAAI/bge-small-en-v1.5\n");
        assertThat(bge.isFeatureExtraction()).isTrue();
        assertThat(bge.baseModelName()).isEqualTo("BAAI/bge-small-en-v1.5");
        assertThatThrownBy(() -> read("task_type: QUESTION_ANS\n")).hasMessageContaining("line 3")
                .hasMessageContaining("task_type must be one of [SEQ_CLS, TOKEN_CLS, FEATURE_EXTRACTION, CAUSAL_LM], got"
                        + " \"QUESTION_ANS\"");
        assertThatThrownBy(() -> read("task_type: FEATURE_EXTRACTION\nfinetuning_type: full\n"))
                .hasMessageContaining("FEATURE_EXTRACTION trains an adapter");
        assertThatThrownBy(() -> read("pair_separator: \"\"\n")).hasMessageContaining("pair_separator must not be empty");
    }
}
