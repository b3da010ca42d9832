package org.peft4j.api.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ModelWeights}: one file, shards by their index, and the refusals. */
class ModelWeightsTest {
    private static final Tensor A = Tensor.ofFloats(new long[] {2}, new float[] {1, 2});
    private static final Tensor B = Tensor.ofFloats(new long[] {1, 2}, new float[] {3, 4});

    @TempDir
    Path dir;

    private void write(String file, Map<String, Tensor> tensors) throws IOException {
        new SafeTensors(tensors, SafeTensors.PT_METADATA).write(dir.resolve(file));
    }

    private void index(String weightMap) throws IOException {
        Files.writeString(dir.resolve(ModelWeights.INDEX), "{\"metadata\": {\"total_size\": 24}, \"weight_map\": "
                + weightMap + "}", StandardCharsets.UTF_8);
    }

    @Test
    void aSingleFileOrItsDirectory() throws IOException {
        write(ModelWeights.SINGLE_FILE, Map.of("a", A, "b", B));
        assertThat(ModelWeights.read(dir)).containsOnlyKeys("a", "b");
        assertThat(ModelWeights.read(dir.resolve(ModelWeights.SINGLE_FILE)).get("b").toFloatArray()).containsExactly(3, 4);
    }

    @Test
    void shardsAsTheIndexMapsThem() throws IOException {
        write("model-00001-of-00002.safetensors", Map.of("a", A));
        write("model-00002-of-00002.safetensors", Map.of("b", B));
        index("{\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00002-of-00002.safetensors\"}");
        Map<String, Tensor> all = ModelWeights.read(dir);
        assertThat(all).containsOnlyKeys("a", "b");
        assertThat(all.get("a").toFloatArray()).containsExactly(1, 2);
        assertThat(all.get("b").shape()).containsExactly(1, 2);
    }

    @Test
    void anIndexThatMapsATensorToTheWrongShardOrOutsideTheDirectoryIsRefused() throws IOException {
        write("model-00001-of-00002.safetensors", Map.of("a", A));
        index("{\"a\": \"model-00001-of-00002.safetensors\", \"b\": \"model-00001-of-00002.safetensors\"}");
        assertThatThrownBy(() -> ModelWeights.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("maps b to model-00001-of-00002.safetensors, which does not hold it");
        index("{\"a\": \"../elsewhere.safetensors\"}");
        assertThatThrownBy(() -> ModelWeights.read(dir)).hasMessageContaining("shard ../elsewhere.safetensors lies outside");
        index("[]");
        assertThatThrownBy(() -> ModelWeights.read(dir)).hasMessageContaining("expected an object \"weight_map\"");
    }

    @Test
    void aPickleIsRefusedWithHowToConvertItAndNeverRead() throws IOException {
        Files.write(dir.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2, 'c', 'o', 's', '\n'});
        Files.writeString(dir.resolve("config.json"), "{}");
        assertThatThrownBy(() -> ModelWeights.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("pytorch_model.bin is a PyTorch pickle, which peft4j does not load")
                .hasMessageContaining("save_pretrained(\"OUT\", safe_serialization=True)");
        Files.delete(dir.resolve("pytorch_model.bin"));
        assertThatThrownBy(() -> ModelWeights.read(dir))
                .hasMessageContaining("holds neither model.safetensors nor model.safetensors.index.json; it holds [config.json]");
    }
}
