package org.peft4j.djl.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The settings: transformers' defaults, generation_config.json's values, and refusals that name the setting. */
class GenerationConfigTest {
    @TempDir
    Path dir;

    @Test
    void defaultsAreTransformersGreedyDefaults() {
        GenerationConfig config = GenerationConfig.builder().build();
        assertThat(config.doSample()).isFalse();
        assertThat(config.maxNewTokens()).isEqualTo(20);
        assertThat(config.temperature()).isEqualTo(1.0);
        assertThat(config.topK()).isEqualTo(50);
        assertThat(config.topP()).isEqualTo(1.0);
        assertThat(config.repetitionPenalty()).isEqualTo(1.0);
        assertThat(config.eosTokenIds()).isEmpty();
        assertThat(config.padTokenId()).isEmpty();
        assertThat(config.seed()).isEmpty();
        assertThat(config.useCache()).isTrue();
    }

    @Test
    void aModelDirectorysGenerationConfigSetsTheDefaultsAndTheBuilderOverridesThem() throws IOException {
        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 7],"
                + " \"pad_token_id\": 0, \"do_sample\": true, \"temperature\": 0.6, \"top_k\": 20, \"top_p\": 0.95,"
                + " \"repetition_penalty\": 1.1, \"max_new_tokens\": 64, \"transformers_version\": \"5.18.0\"}");
        GenerationConfig config = GenerationConfig.builder(dir).optTopK(0).build();
        assertThat(config.eosTokenIds()).containsExactly(2L, 7L);
        assertThat(config.padTokenId()).hasValue(0);
        assertThat(config.doSample()).isTrue();
        assertThat(config.temperature()).isEqualTo(0.6);
        assertThat(config.topK()).isZero();
        assertThat(config.topP()).isEqualTo(0.95);
        assertThat(config.repetitionPenalty()).isEqualTo(1.1);
        assertThat(config.maxNewTokens()).isEqualTo(64);

        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": 2, \"pad_token_id\": null}");
        GenerationConfig single = GenerationConfig.builder(dir).build();
        assertThat(single.eosTokenIds()).containsExactly(2L);
        assertThat(single.padTokenId()).isEmpty();
        assertThat(single.topK()).isEqualTo(50);
    }

    @Test
    void withoutTheFileTheTokenIdsComeFromConfigJsonAndWithoutBothTheDefaults() throws IOException {
        assertThat(GenerationConfig.builder(dir).build().toString())
                .isEqualTo(GenerationConfig.builder().build().toString());
        Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"hidden_size\": 64,"
                + " \"eos_token_id\": [5, 6], \"pad_token_id\": 1}");
        GenerationConfig config = GenerationConfig.builder(dir).build();
        assertThat(config.eosTokenIds()).containsExactly(5L, 6L);
        assertThat(config.padTokenId()).hasValue(1);
        assertThat(config.doSample()).isFalse();
    }

    @Test
    void aWrongTypeInTheFileNamesTheFileAndTheKey() throws IOException {
        Path file = dir.resolve("generation_config.json");
        Files.writeString(file, "{\"eos_token_id\": [2, \"x\"]}");
        assertThatThrownBy(() -> GenerationConfig.builder(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("eos_token_id");
        Files.writeString(file, "{\"temperature\": \"hot\"}");
        assertThatThrownBy(() -> GenerationConfig.builder(dir)).hasMessageContaining("temperature");
    }

    @Test
    void outOfRangeSettingsAreRefusedWithTheirNames() {
        assertThatThrownBy(() -> GenerationConfig.builder().optDoSample(true).optTemperature(0).build())
                .hasMessageContaining("temperature").hasMessageContaining("do_sample");
        assertThat(GenerationConfig.builder().optTemperature(0).build().temperature()).as("greedy").isZero();
        assertThatThrownBy(() -> GenerationConfig.builder().optTemperature(-1).build())
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> GenerationConfig.builder().optTemperature(Double.NaN).build())
                .hasMessageContaining("temperature");
        assertThatThrownBy(() -> GenerationConfig.builder().optTopK(-1).build()).hasMessageContaining("top_k");
        assertThatThrownBy(() -> GenerationConfig.builder().optTopP(1.5).build()).hasMessageContaining("top_p");
        assertThatThrownBy(() -> GenerationConfig.builder().optRepetitionPenalty(0).build())
                .hasMessageContaining("repetition_penalty");
        assertThatThrownBy(() -> GenerationConfig.builder().optMaxNewTokens(0).build())
                .hasMessageContaining("max_new_tokens");
        assertThatThrownBy(() -> GenerationConfig.builder().optEosTokenIds(List.of(2L, -1L)).build())
                .hasMessageContaining("eos_token_id");
        assertThatThrownBy(() -> GenerationConfig.builder().optPadTokenId(-1).build())
                .hasMessageContaining("pad_token_id");
    }
}
