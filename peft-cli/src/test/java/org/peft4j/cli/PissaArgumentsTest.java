package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;

/** LLaMA-Factory's pissa_init, pissa_iter and pissa_convert become PEFT's init_lora_weights. */
class PissaArgumentsTest {
    @TempDir
    Path dir;

    private TrainArguments read(String yaml) throws Exception {
        Files.writeString(dir.resolve("data.tsv"), "text\tlabel\nhello\tham\n");
        Path file = dir.resolve("c.yaml");
        Files.writeString(file, "dataset: " + dir.resolve("data.tsv") + "\noutput_dir: " + dir.resolve("out") + "\n" + yaml);
        return ConfigFile.read(file).arguments();
    }

    @Test
    void pissaKeysChooseTheInitialisation() throws Exception {
        TrainArguments plain = read("lora_target: query\n");
        assertThat(plain.pissaInit()).isFalse();
        assertThat(((LoraConfig) TrainCommand.peftConfig(plain)).initLoraWeights()).isEqualTo(LoraInit.KAIMING_UNIFORM);

        LoraConfig fast = (LoraConfig) TrainCommand.peftConfig(read("lora_target: query\npissa_init: true\n"));
        assertThat(fast.initLoraWeights()).isEqualTo(LoraInit.PISSA_NITER);
        assertThat(fast.pissaNiter()).isEqualTo(16); // LLaMA-Factory's default pissa_iter
        LoraConfig exact = (LoraConfig) TrainCommand.peftConfig(read("lora_target: query\npissa_init: true\npissa_iter: -1\n"));
        assertThat(exact.initLoraWeights()).isEqualTo(LoraInit.PISSA);

        assertThatThrownBy(() -> read("pissa_convert: true\n")).hasMessageContaining("set pissa_init: true too");
        assertThatThrownBy(() -> read("pissa_init: true\npissa_iter: -2\n")).hasMessageContaining("pissa_iter must be -1");
    }
}
