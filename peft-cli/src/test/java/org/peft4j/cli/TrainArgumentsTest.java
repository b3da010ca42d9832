package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.djl.models.bert.BertConfig;

/** Every key is checked before training: names, types, ranges, files, lines; defaults as documented. */
class TrainArgumentsTest {
    @TempDir
    Path dir;

    /** A config file: dataset on line 1, output_dir on line 2, then {@code yaml}. */
    private Path config(String yaml) throws Exception {
        Files.writeString(dir.resolve("data.tsv"), "text\tlabel\nhello\tham\n");
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: " + dir.resolve("out") + "\n" + yaml);
        return file;
    }

    private TrainArguments read(String yaml) throws Exception {
        return ConfigFile.read(config(yaml)).arguments();
    }

    @Test
    void defaultsFollowLlamaFactoryAndTheMethod() throws Exception {
        TrainArguments lora = read("lora_rank: 4\n");
        assertThat(lora.finetuningType()).isEqualTo("lora");
        assertThat(lora.loraAlpha()).isEqualTo(8.0); // 2 x lora_rank
        assertThat(lora.learningRate()).isEqualTo(2e-3);
        assertThat(lora.loraTargets()).containsExactly("all");
        assertThat(lora.modelNameOrPath()).isEqualTo(TrainArguments.DEFAULT_MODEL);
        assertThat(lora.maxSamples()).isNull();
        assertThat(lora.plotLoss()).isTrue();
        TrainArguments prompt = read("finetuning_type: prompt\nlearning_rate: 1e-2\nlora_target: query, value\n"
                + "num_train_epochs: 3.0\n");
        assertThat(prompt.learningRate()).isEqualTo(1e-2); // YAML reads 1e-2 as a string
        assertThat(prompt.loraTargets()).containsExactly("query", "value");
        assertThat(prompt.numTrainEpochs()).isEqualTo(3); // LLaMA-Factory's examples write epochs as 3.0
        assertThat(TrainArguments.knownKeys()).startsWith("model_name_or_path", "finetuning_type")
                .contains("plot_loss", "task_type", "positive_column", "pair_separator", "stage", "template", "formatting",
                        "train_on_prompt", "spark_master", "spark_workers", "sync_every", "save_steps",
                        "spark_checkpoint_dir", "resume_from_checkpoint").hasSize(51);
    }

    @Test
    void anUnknownKeyNamesTheClosestKnownOneAndItsLine() throws Exception {
        assertThatThrownBy(() -> read("lora_rnak: 8\n"))
                .hasMessageStartingWith(dir.resolve("c.yaml") + ", line 3: ")
                .hasMessageContaining("unknown key \"lora_rnak\"; did you mean \"lora_rank\"?");
        assertThatThrownBy(() -> read("seed: 1\nlearning_rat: 0.1\n")).hasMessageContaining("line 4: unknown key")
                .hasMessageContaining("did you mean \"learning_rate\"?");
    }

    @Test
    void wrongTypesAndValuesNameTheKeyAndLine() throws Exception {
        assertThatThrownBy(() -> read("lora_rank: eight\n"))
                .hasMessageEndingWith("line 3: lora_rank must be a whole number, got \"eight\"");
        assertThatThrownBy(() -> read("num_train_epochs: 1.5\n"))
                .hasMessageEndingWith("line 3: num_train_epochs must be a whole number, got 1.5");
        assertThatThrownBy(() -> read("plot_loss: maybe\n")).hasMessageContaining("plot_loss must be true or false");
        assertThatThrownBy(() -> read("finetuning_type: dora\n")).hasMessageContaining(
                "line 3: finetuning_type must be one of [lora, prompt, prefix, ia3, full, freeze], got \"dora\"");
        assertThatThrownBy(() -> read("lora_rank: 0\n")).hasMessageContaining("lora_rank must be a positive integer, got 0");
        assertThatThrownBy(() -> read("val_size: 1.5\n")).hasMessageContaining("val_size must be in [0, 1)");
        assertThatThrownBy(() -> read("lr_scheduler_type: step\n"))
                .hasMessageContaining("lr_scheduler_type must be linear, cosine or constant");
        assertThatThrownBy(() -> read("learning_rate: .inf\n")).hasMessageContaining("learning_rate must be a number");
        assertThatThrownBy(() -> read("lora_target: [query, value]\n"))
                .hasMessageContaining("lora_target must be a string, got a list");
    }

    @Test
    void integersBeyondThirtyTwoBitsAreErrorsNotTruncated() throws Exception {
        // 4294967297 = 2^32 + 1: truncated to 32 bits it would be 1 epoch
        assertThatThrownBy(() -> read("num_train_epochs: 4294967297\n")).hasMessageEndingWith("line 3: num_train_epochs"
                + " must be a whole number between -2147483648 and 2147483647, got 4294967297");
        assertThatThrownBy(() -> read("seed: 4294967297.0\n")).hasMessageContaining("line 3: seed must be a whole number"
                + " between");
        // a whole number within 32 bits, however written; too large a rank for any layer (see below)
        assertThat(read("lora_rank: 1e8\n").loraRank()).isEqualTo(100_000_000);
    }

    @Test
    void aKeyGivenTwiceIsAnError() throws Exception {
        assertThatThrownBy(() -> read("lora_rank: 8\nlora_rank: 16\n"))
                .hasMessageStartingWith(dir.resolve("c.yaml") + ", line 4: not valid YAML for a config: "
                        + "Duplicate field 'lora_rank'");
    }

    @Test
    void anEmptyOutputDirTheWorkingDirectoryAndARootAreErrors() throws Exception {
        Path file = dir.resolve("c.yaml");
        Files.writeString(dir.resolve("data.tsv"), "text\tlabel\nhello\tham\n");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: \"\"\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessage(file + ", line 2: output_dir must name a directory,"
                + " got \"\"");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: .\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessage(file + ", line 2: output_dir must be a directory of"
                + " its own, not the working directory, got \".\"");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: /\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessageContaining("not a root");
    }

    @Test
    void aConfigThatIsNotUtf8NamesTheFileAndLine() throws Exception {
        Path file = dir.resolve("latin1.yaml");
        Files.write(file, "# caf\u00e9\noutput_dir: x\n".getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> ConfigFile.read(file)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(file + ", line 1: not UTF-8 text (byte 5 of the file starts an invalid sequence); save the"
                        + " config file as UTF-8");
    }

    @Test
    void aByteOrderMarkIsRead() throws Exception {
        Path file = config("seed: 7\n");
        Files.writeString(file, "\uFEFF" + Files.readString(file));
        assertThat(ConfigFile.read(file).arguments().seed()).isEqualTo(7);
    }

    @Test
    void missingFilesAndKeysAreReported() throws Exception {
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "output_dir: out\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessageContaining("missing required key \"dataset\"");
        Files.writeString(file, "output_dir: out\ndataset: nowhere.tsv\n");
        assertThatThrownBy(() -> ConfigFile.read(file))
                .hasMessage(file + ", line 2: dataset nowhere.tsv does not exist");
        assertThatThrownBy(() -> ConfigFile.read(dir.resolve("absent.yaml"))).hasMessageContaining("does not exist");
        Files.writeString(file, "- just\n- a list\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessageContaining("expected a mapping of keys to values, got a list");
        Files.writeString(file, "");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessageContaining("got an empty file");
        Files.writeString(file, "key: [unclosed\n");
        assertThatThrownBy(() -> ConfigFile.read(file)).hasMessageContaining("not valid YAML");
    }

    @Test
    void valuesTheModelCannotTakeNameTheirKey() throws Exception {
        // hidden size 384, 6 layers, 512 positions: all-MiniLM-L6-v2's dimensions
        BertConfig miniLm = new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12f, 0f, 0f);
        read("cutoff_len: 512\nlora_rank: 384\n").checkFits(miniLm, "m");
        assertThatThrownBy(() -> read("cutoff_len: 100000\n").checkFits(miniLm, "m"))
                .isInstanceOfSatisfying(TrainArguments.BadValueException.class,
                        e -> assertThat(e.key()).isEqualTo("cutoff_len"))
                .hasMessage("cutoff_len 100000 is more than the 512 positions m has (max_position_embeddings)");
        assertThatThrownBy(() -> read("lora_rank: 1e8\n").checkFits(miniLm, "m"))
                .isInstanceOfSatisfying(TrainArguments.BadValueException.class,
                        e -> assertThat(e.key()).isEqualTo("lora_rank"))
                .hasMessageStartingWith("lora_rank 100000000 is larger than the layers it adapts: m has hidden size 384");
        assertThatThrownBy(() -> read("finetuning_type: prefix\ncutoff_len: 500\nnum_virtual_tokens: 20\n")
                .checkFits(miniLm, "m")).isInstanceOfSatisfying(TrainArguments.BadValueException.class,
                        e -> assertThat(e.key()).isEqualTo("num_virtual_tokens"));
        assertThatThrownBy(() -> read("finetuning_type: freeze\nfreeze_trainable_layers: 7\n").checkFits(miniLm, "m"))
                .hasMessage("freeze_trainable_layers 7 is more than the 6 layers m has");
    }
}
