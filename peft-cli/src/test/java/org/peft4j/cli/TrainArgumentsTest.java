package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every key is checked before training: names, types, ranges, files; defaults as documented. */
class TrainArgumentsTest {
    @TempDir
    Path dir;

    private Path config(String yaml) throws Exception {
        Files.writeString(dir.resolve("data.tsv"), "text\tlabel\nhello\tham\n");
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: " + dir.resolve("out") + "\n" + yaml);
        return file;
    }

    @Test
    void defaultsFollowLlamaFactoryAndTheMethod() throws Exception {
        TrainArguments lora = TrainArguments.read(config("lora_rank: 4\n"));
        assertThat(lora.finetuningType()).isEqualTo("lora");
        assertThat(lora.loraAlpha()).isEqualTo(8.0); // 2 x lora_rank
        assertThat(lora.learningRate()).isEqualTo(2e-3);
        assertThat(lora.loraTargets()).containsExactly("all");
        assertThat(lora.modelNameOrPath()).isEqualTo(TrainArguments.DEFAULT_MODEL);
        TrainArguments prompt = TrainArguments.read(config("finetuning_type: prompt\nlearning_rate: 1e-2\n"
                + "lora_target: query, value\n"));
        assertThat(prompt.learningRate()).isEqualTo(1e-2); // YAML reads 1e-2 as a string
        assertThat(prompt.loraTargets()).containsExactly("query", "value");
    }

    @Test
    void anUnknownKeyNamesTheClosestKnownOne() throws Exception {
        assertThatThrownBy(() -> TrainArguments.read(config("lora_rnak: 8\n")))
                .hasMessageContaining("unknown key \"lora_rnak\"; did you mean \"lora_rank\"?");
        assertThatThrownBy(() -> TrainArguments.read(config("learning_rat: 0.1\n")))
                .hasMessageContaining("did you mean \"learning_rate\"?");
    }

    @Test
    void wrongTypesAndValuesNameTheKey() throws Exception {
        assertThatThrownBy(() -> TrainArguments.read(config("lora_rank: eight\n")))
                .hasMessageContaining("lora_rank must be a whole number, got \"eight\"");
        assertThatThrownBy(() -> TrainArguments.read(config("num_train_epochs: 1.5\n")))
                .hasMessageContaining("num_train_epochs must be a whole number, got 1.5");
        assertThatThrownBy(() -> TrainArguments.read(config("plot_loss: maybe\n")))
                .hasMessageContaining("plot_loss must be true or false");
        assertThatThrownBy(() -> TrainArguments.read(config("finetuning_type: dora\n")))
                .hasMessageContaining("finetuning_type must be one of [lora, prefix, prompt, full, freeze], got \"dora\"");
        assertThatThrownBy(() -> TrainArguments.read(config("lora_rank: 0\n")))
                .hasMessageContaining("lora_rank must be a positive integer, got 0");
        assertThatThrownBy(() -> TrainArguments.read(config("val_size: 1.5\n")))
                .hasMessageContaining("val_size must be in [0, 1)");
        assertThatThrownBy(() -> TrainArguments.read(config("lr_scheduler_type: step\n")))
                .hasMessageContaining("lr_scheduler_type must be linear, cosine or constant");
    }

    @Test
    void missingFilesAndKeysAreReported() throws Exception {
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "output_dir: out\n");
        assertThatThrownBy(() -> TrainArguments.read(file)).hasMessageContaining("missing required key \"dataset\"");
        Files.writeString(file, "output_dir: out\ndataset: nowhere.tsv\n");
        assertThatThrownBy(() -> TrainArguments.read(file)).hasMessageContaining("dataset nowhere.tsv does not exist");
        assertThatThrownBy(() -> TrainArguments.read(dir.resolve("absent.yaml"))).hasMessageContaining("does not exist");
        Files.writeString(file, "- just\n- a list\n");
        assertThatThrownBy(() -> TrainArguments.read(file)).hasMessageContaining("expected a mapping");
        Files.writeString(file, "key: [unclosed\n");
        assertThatThrownBy(() -> TrainArguments.read(file)).hasMessageContaining("is not valid YAML");
    }
}
