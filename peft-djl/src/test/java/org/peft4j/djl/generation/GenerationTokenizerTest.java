package org.peft4j.djl.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.djl.models.DecoderFamilies;

/**
 * Text in and out with the golden LLaMA directory's WordLevel tokenizer.json; the expected ids and
 * texts are what transformers 5.18 gives for the same directory ({@code AutoTokenizer},
 * {@code decode(..., skip_special_tokens=True)}, and {@code generate(ids, max_new_tokens=8)} with the
 * directory's generation_config.json: eos_token_id 2, pad_token_id 0).
 */
class GenerationTokenizerTest {
    private static final Path MODEL = Path.of("..", "integration-tests", "src", "test", "resources", "golden",
            "causal-lm", "llama", "model");

    @Test
    void encodesAddingOnlyWhatThePostProcessorAddsAndDecodesWithoutSpecialTokens() throws IOException {
        try (GenerationTokenizer tokenizer = GenerationTokenizer.fromModelDirectory(MODEL)) {
            assertThat(tokenizer.encode("what is the answer yes")).containsExactly(14, 15, 4, 16, 17);
            assertThat(tokenizer.encode("what is the  dragon ?")).containsExactly(14, 15, 4, 3, 19);
            assertThat(tokenizer.encode("<s> what is the answer park")).containsExactly(1, 14, 15, 4, 16, 13);
            assertThat(tokenizer.decode(new long[] {1, 14, 15, 4, 16, 13, 2, 0, 0})).isEqualTo("what is the answer park");
            assertThat(tokenizer.decode(new long[] {14, 3, 15})).isEqualTo("what is");
        }
    }

    @Test
    void generatesPythonsTextWithTheDirectorysSettingsAndStreamsIt() throws IOException {
        try (GenerationTokenizer tokenizer = GenerationTokenizer.fromModelDirectory(MODEL);
                NDManager manager = NDManager.newBaseManager()) {
            Generator generator = new Generator(DecoderFamilies.fromHuggingFace(MODEL, manager),
                    GenerationConfig.builder(MODEL).optMaxNewTokens(8).build());
            List<String> pieces = new ArrayList<>();
            long[] tokens = generator.generate(manager, tokenizer.encode("<s> what is the answer park"),
                    tokenizer.streamer(pieces::add));
            assertThat(tokens).containsExactly(14, 5, 9, 0, 17, 5, 2);
            assertThat(tokenizer.decode(tokens)).isEqualTo("what cat a yes cat");
            assertThat(pieces).containsExactly("what", " cat", " a", " yes", " cat");
        }
    }

    @Test
    void aDirectoryWithoutTokenizerJsonIsNamed(@TempDir Path dir) {
        assertThatThrownBy(() -> GenerationTokenizer.fromModelDirectory(dir))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(dir.toString())
                .hasMessageContaining("tokenizer.json");
    }
}
