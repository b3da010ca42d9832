package org.peft4j.api.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;

/**
 * Adapters from elsewhere: non-finite weights and overflowing numbers are errors naming the tensor
 * or key, a non-finite adapter is never written, and regular expressions in a config cannot hang
 * loading.
 */
class UntrustedAdapterTest {
    @TempDir
    Path dir;

    private static final String LORA = "{\"peft_type\":\"LORA\",\"r\":2,\"lora_alpha\":%s,\"target_modules\":%s%s}";

    private static AdapterCheckpoint withWeight(float value) {
        return new AdapterCheckpoint(LoraConfig.builder().optR(1).setTargetModules("q").build(),
                Map.of("base_model.model.q.lora_A.weight", Tensor.ofFloats(new long[] {1, 3}, new float[] {1, value, 2}),
                        "base_model.model.q.lora_B.weight", Tensor.ofFloats(new long[] {2, 1}, new float[] {0, 0})));
    }

    @Test
    void aNonFiniteAdapterIsNeverWritten() {
        Path out = dir.resolve("adapter");
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            assertThatThrownBy(() -> withWeight(bad).save(out))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("refusing to save an adapter with non-finite weights: tensor "
                            + "\"base_model.model.q.lora_A.weight\" holds NaN or an infinity at element 1 (training diverged?)");
            assertThatThrownBy(() -> withWeight(bad).weightBytes()).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(Files.exists(out)).isFalse();
    }

    @Test
    void loadingNonFiniteWeightsIsAnErrorNamingTheTensor() throws Exception {
        Path out = dir.resolve("adapter");
        withWeight(1).save(out);
        // the weights file replaced by one a diverged run could have written, in every float type
        for (DType type : new DType[] {DType.F32, DType.F16, DType.BF16, DType.F64}) {
            Tensor a = Tensor.ofFloats(new long[] {1, 3}, new float[] {1, 2, Float.NaN}).convertTo(type);
            Tensor b = Tensor.ofFloats(new long[] {2, 1}, new float[] {0, 0}).convertTo(type);
            new SafeTensors(Map.of("base_model.model.q.lora_A.weight", a, "base_model.model.q.lora_B.weight", b),
                    SafeTensors.PT_METADATA).write(out.resolve(AdapterCheckpoint.WEIGHTS_FILE));
            assertThatThrownBy(() -> AdapterCheckpoint.load(out))
                    .as(type.name())
                    .isInstanceOf(AdapterFormatException.class)
                    .hasMessage(out.resolve(AdapterCheckpoint.WEIGHTS_FILE) + ": tensor \"base_model.model.q.lora_A.weight\""
                            + " holds NaN or an infinity at element 2; an adapter must hold finite numbers only");
        }
        byte[] weights = Files.readAllBytes(out.resolve(AdapterCheckpoint.WEIGHTS_FILE));
        assertThatThrownBy(() -> AdapterCheckpoint.parse(AdapterConfigJson.toJson(withWeight(1).config()), weights, "model.bin"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageStartingWith("model.bin (adapter_model.safetensors): tensor \"base_model.model.q.lora_A.weight\"");
    }

    @Test
    void aLoraAlphaThatOverflowsAFloatIsAnErrorNamingTheKey() {
        for (String alpha : new String[] {"1e39", "3.5e38", "1e400", "1" + "0".repeat(60)}) {
            assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, alpha, "[\"q\"]", ""), "c.json"))
                    .isInstanceOf(AdapterFormatException.class)
                    .hasMessageStartingWith("c.json: key \"lora_alpha\": expected a number that fits a 32-bit float");
        }
        assertThatThrownBy(() -> AdapterConfigJson.parse(
                String.format(LORA, "8", "[\"q\"]", ",\"alpha_pattern\":{\"q\":1e39}"), "c.json"))
                .hasMessageStartingWith("c.json: key \"alpha_pattern.\"q\"\": expected a number that fits a 32-bit float");
        // the largest float is still a float
        assertThat(((LoraConfig) AdapterConfigJson.parse(String.format(LORA, "3.4e38", "[\"q\"]", ""), "c.json"))
                .scalingFor("q")).isFinite();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard: java.util.regex needs years for these
    void catastrophicPatternsInEveryRegexKeyLoadAndMatchAtOnce() {
        String path = "base_model.model.encoder.layer.11.attention.self.query.".repeat(4) + "x";
        LoraConfig c = (LoraConfig) AdapterConfigJson.parse(String.format(LORA, "8", "\"(.*){12}!\"",
                ",\"exclude_modules\":\"(.*){12}!\",\"rank_pattern\":{\"(.*){12}!\":4},\"alpha_pattern\":{\"(.*){12}!\":4}"),
                "c.json");
        assertThat(c.isTargeted(path)).isFalse();
        assertThat(c.rankFor(path)).isEqualTo(2);
        assertThat(c.alphaFor(path)).isEqualTo(8f);
    }

    @Test
    void invalidPatternsAreErrorsNamingTheKey() {
        assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, "8", "\"(q\"", ""), "c.json"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageStartingWith("c.json: target_modules: \"(q\" is not a regular expression");
        assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, "8", "[\"q\"]", ",\"exclude_modules\":\"a{1001}\""), "c.json"))
                .hasMessageStartingWith("c.json: exclude_modules: \"a{1001}\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, "8", "[\"q\"]", ",\"rank_pattern\":{\"(?=q)\":4}"), "c.json"))
                .hasMessageStartingWith("c.json: rank_pattern key \"(?=q)\" is not a regular expression");
        assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, "8", "[\"q\"]",
                ",\"alpha_pattern\":{\"((a{100}){100}){100}\":4}"), "c.json"))
                .hasMessageStartingWith("c.json: alpha_pattern key \"((a{100}){100}){100}\" is too large a regular expression");
    }

    @Test
    void messagesQuoteTheFileOnlyInShortEscapedExcerpts() {
        String hostile = "\\u001b[31m" + "x".repeat(10_000) + "\u00e9"; // an escape sequence, escaped in JSON
        assertThatThrownBy(() -> AdapterConfigJson.parse(String.format(LORA, "\"" + hostile + "\"", "[\"q\"]", ""), "c.json"))
                .satisfies(e -> assertThat(e.getMessage())
                        .startsWith("c.json: key \"lora_alpha\": expected a number, found \"\\u001b[31mxxx")
                        .endsWith("... (9926 more characters)")
                        .matches("[\\x20-\\x7e]*"));
        assertThatThrownBy(() -> AdapterConfigJson.parse("{\"peft_type\": " + "root:x:0:0:".repeat(1000), "c.json"))
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(400).matches("[\\x20-\\x7e]*"));
    }
}
