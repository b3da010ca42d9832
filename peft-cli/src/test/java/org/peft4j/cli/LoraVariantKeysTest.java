package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.cli.Peft4jCommandTest.Result;

/**
 * LLaMA-Factory's keys for LoRA variants and for continuing from adapters, on the real
 * all-MiniLM-L6-v2 with 16 rows a split and 16 tokens: {@code use_dora}, {@code use_rslora} and
 * {@code loraplus_lr_ratio} reach the adapter and the training settings; {@code adapter_name_or_path}
 * trains an adapter further with its own settings; with {@code create_new_adapter} it is merged into
 * the base, a new adapter trains, and eval merges it again; misuses fail with the key's line.
 */
class LoraVariantKeysTest {
    @TempDir
    static Path dir;
    static Path data;
    /** A DoRA run with rsLoRA and LoRA+, trained once for the tests that continue from it. */
    static Path dora;
    static Result doraRun;

    @BeforeAll
    static void trainADoraAdapter() throws Exception {
        data = Path.of("../data/spamassassin.tsv").toAbsolutePath();
        dora = dir.resolve("dora");
        doraRun = Peft4jCommandTest.run("train", config("dora.yaml", dora, "lora_target: query,value\nuse_dora: true\n"
                + "use_rslora: true\nloraplus_lr_ratio: 16\n").toString());
        assertThat(doraRun.status()).as(doraRun.err()).isZero();
    }

    /** A small run's config: 16 rows a split, 16 tokens, one epoch, then {@code yaml}. */
    private static Path config(String name, Path outputDir, String yaml) throws Exception {
        Path file = dir.resolve(name);
        Files.writeString(file, "dataset: " + data + "\noutput_dir: " + outputDir + "\nmax_samples: 16\ncutoff_len: 16\n"
                + "num_train_epochs: 1\nplot_loss: false\n" + yaml);
        return file;
    }

    private static JsonNode json(Path file) throws Exception {
        return new ObjectMapper().readTree(file.toFile());
    }

    /** eval of {@code run} gives the test numbers train wrote: the same model was loaded again. */
    private static void evalReproducesTraining(Path run) throws Exception {
        JsonNode results = json(run.resolve("all_results.json"));
        Result eval = Peft4jCommandTest.run("eval", run.toString(), "--max-samples", "16");
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode metrics = new ObjectMapper().readTree(eval.out());
        assertThat(metrics.get("eval_loss").asDouble()).isEqualTo(results.get("test_loss").asDouble());
    }

    @Test
    void useDoraAndUseRsloraReachTheAdapterAndEvalLoadsIt() throws Exception {
        // LoRA on query and value of 6 layers (73,728), the pooler and classifier (148,610), and now
        // a magnitude per output row of each of the 12 layers (4,608)
        assertThat(doraRun.out()).contains("trainable parameters: 226,946");
        AdapterCheckpoint adapter = AdapterCheckpoint.load(dora);
        LoraConfig config = (LoraConfig) adapter.config();
        assertThat(config.useDora()).isTrue();
        assertThat(config.useRslora()).isTrue();
        assertThat(adapter.tensors().keySet().stream().filter(k -> k.endsWith(".lora_magnitude_vector")))
                .hasSize(12).contains("base_model.model.bert.encoder.layer.0.attention.self.query.lora_magnitude_vector");
        evalReproducesTraining(dora);
    }

    @Test
    void loraplusLrRatioReachesTheTrainingSettings() throws Exception {
        TrainArguments plus = ConfigFile.read(config("plus.yaml", dir.resolve("unused"), "loraplus_lr_ratio: 16\n"))
                .arguments();
        assertThat(TrainCommand.settings(plus, null).loraplusLrRatio()).isEqualTo(16f);
        TrainArguments plain = ConfigFile.read(config("plain.yaml", dir.resolve("unused"), "")).arguments();
        assertThat(TrainCommand.settings(plain, null).loraplusLrRatio()).isEqualTo(1f);
    }

    @Test
    void adapterNameOrPathTrainsTheAdapterFurtherWithItsOwnSettings() throws Exception {
        Path further = dir.resolve("further");
        // lora_rank and lora_target are the new adapter's settings; a continued adapter keeps its own
        Result r = Peft4jCommandTest.run("train", config("further.yaml", further, "adapter_name_or_path: " + dora
                + "\nlora_rank: 4\nlora_target: query\n").toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("training adapter " + dora + " further", "trainable parameters: 226,946");
        AdapterCheckpoint before = AdapterCheckpoint.load(dora);
        AdapterCheckpoint after = AdapterCheckpoint.load(further);
        assertThat(after.config()).isEqualTo(before.config());
        String key = "base_model.model.bert.encoder.layer.0.attention.self.value.lora_B.weight";
        assertThat(after.tensors().get(key).toFloatArray()).isNotEqualTo(before.tensors().get(key).toFloatArray());
        assertThat(json(further.resolve(RunRecord.FILE)).get("merged_adapters")).isEmpty();
    }

    @Test
    void createNewAdapterMergesTheAdapterAndTrainsANewOneThatEvalLoadsOnTheMergedBase() throws Exception {
        Path fresh = dir.resolve("fresh");
        Result r = Peft4jCommandTest.run("train", config("fresh.yaml", fresh, "adapter_name_or_path: " + dora
                + "\ncreate_new_adapter: true\nlora_rank: 4\nlora_target: query\n").toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("merged adapter " + dora + " into the base");
        LoraConfig config = (LoraConfig) AdapterCheckpoint.load(fresh).config();
        assertThat(config.r()).isEqualTo(4);
        assertThat(config.targetModules().names()).containsExactly("query");
        assertThat(config.useDora()).isFalse();
        assertThat(json(fresh.resolve(RunRecord.FILE)).get("merged_adapters").get(0).asText())
                .isEqualTo(dora.toAbsolutePath().toString());
        evalReproducesTraining(fresh); // only with the DoRA adapter merged first do the losses agree
    }

    @Test
    void adaptersThatDoNotFitTheRunAreRefusedBeforeTraining() throws Exception {
        Path never = dir.resolve("never");
        Path file = config("prompt.yaml", never, "finetuning_type: prompt\nadapter_name_or_path: " + dora + "\n");
        Result prompt = Peft4jCommandTest.run("train", file.toString());
        assertThat(prompt.status()).isEqualTo(2);
        assertThat(prompt.err()).contains(file + ", line 8: adapter_name_or_path " + dora + " is a lora adapter"
                + " (peft_type LORA), and finetuning_type is prompt; set finetuning_type: lora to train it further");
        Path missing = dir.resolve("no-such-adapter");
        Result absent = Peft4jCommandTest.run("train", config("absent.yaml", never, "adapter_name_or_path: " + missing
                + "\n").toString());
        assertThat(absent.status()).isEqualTo(2);
        assertThat(absent.err()).contains("line 7: adapter_name_or_path " + missing + " does not load: ");
        assertThat(never).doesNotExist();
    }

    @Test
    void misusedKeysNameTheKeyAndItsLine() throws Exception {
        Path out = dir.resolve("unused");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "use_dora: maybe\n")))
                .hasMessageContaining("line 7: use_dora must be true or false");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "finetuning_type: prompt\nuse_dora: true\n")))
                .hasMessageContaining("line 8: use_dora applies to finetuning_type lora, not prompt");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "finetuning_type: prefix\nuse_rslora: true\n")))
                .hasMessageContaining("line 8: use_rslora applies to finetuning_type lora, not prefix");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "loraplus_lr_ratio: 0\n")))
                .hasMessageContaining("line 7: loraplus_lr_ratio must be a positive number, got 0.0");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "create_new_adapter: true\n")))
                .hasMessageContaining("line 7: create_new_adapter merges the adapters of adapter_name_or_path");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "finetuning_type: full\nadapter_name_or_path: a\n")))
                .hasMessageContaining("line 8: adapter_name_or_path continues training an adapter, and finetuning_type"
                        + " full trains the model's own weights");
        assertThatThrownBy(() -> ConfigFile.read(config("c.yaml", out, "adapter_name_or_path: a,,b\n")))
                .hasMessageContaining("adapter_name_or_path must name adapter directories separated by commas");
    }
}
