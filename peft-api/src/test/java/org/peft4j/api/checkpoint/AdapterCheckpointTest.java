package org.peft4j.api.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

class AdapterCheckpointTest {
    @TempDir
    Path dir;

    private static AdapterCheckpoint sample(float value) {
        return new AdapterCheckpoint(LoraConfig.builder().optR(1).setTargetModules("q").build(),
                Map.of("base_model.model.q.lora_A.weight", Tensor.ofFloats(new long[] {1, 2}, new float[] {value, 2}),
                        "base_model.model.q.lora_B.weight", Tensor.ofFloats(new long[] {2, 1}, new float[] {0, 0})));
    }

    @Test
    void savesAndLoadsTheHuggingFaceLayout() throws IOException {
        Path out = dir.resolve("nested/adapter");
        sample(1).save(out);
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
        }
        AdapterCheckpoint back = AdapterCheckpoint.load(out);
        assertThat(back).isEqualTo(sample(1));
    }

    @Test
    void aMissingFileIsNamed() throws IOException {
        Path adapter = dir.resolve("adapter");
        sample(1).save(adapter);
        Files.delete(adapter.resolve("adapter_config.json"));
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("adapter_config.json does not exist");
    }

    @Test
    void aWriteThatFailsHalfwayLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("adapter_config.json");
        Files.writeString(target, "old", StandardCharsets.UTF_8);
        assertThatThrownBy(() -> AtomicFiles.write(target, out -> {
            out.write("new and half".getBytes(StandardCharsets.UTF_8));
            throw new IOException("disk full");
        })).hasMessage("disk full");
        assertThat(Files.readString(target, StandardCharsets.UTF_8)).isEqualTo("old");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(target);
        }
    }

    @Test
    void savingOverAnAdapterReplacesBothFilesAndLeavesNoTemporaryFile() throws IOException {
        Path adapter = dir.resolve("adapter");
        sample(1).save(adapter);
        sample(5).save(adapter);
        assertThat(AdapterCheckpoint.load(adapter)).isEqualTo(sample(5));
        // saved files are readable by others, as files written any other way are
        assertThat(java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(adapter.resolve(AdapterCheckpoint.WEIGHTS_FILE)))).isEqualTo("rw-r--r--");
        try (Stream<Path> files = Files.list(adapter)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(AdapterCheckpoint.CONFIG_FILE, AdapterCheckpoint.WEIGHTS_FILE);
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("adapter", ".adapter.lock");
        }
    }
}
