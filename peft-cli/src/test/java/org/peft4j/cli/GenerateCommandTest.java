package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code peft4j generate} on the golden tiny LLaMA of transformers (integration-tests'
 * make_decoder_golden.py): greedy tokens equal Python's generate(), without and with PEFT's LoRA
 * adapter; a directory that is not a model is bad input.
 */
class GenerateCommandTest {
    private static final Path GOLDEN = Path.of("..", "integration-tests", "src", "test", "resources", "golden", "causal-lm");

    private static String[] run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Peft4j.run(args, new Peft4j.Console(new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8)));
        return new String[] {Integer.toString(status), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void greedyTokensArePythons() throws Exception {
        JsonNode golden = new ObjectMapper().readTree(GOLDEN.resolve("golden.json").toFile());
        // the golden prompt, ids 1, 14, 15, 4, 16, 13, in the golden WordLevel vocabulary
        String prompt = "<s> what is the answer park";
        for (String[] adapter : List.of(new String[0], new String[] {"--adapter", GOLDEN.resolve("llama/lora").toString()})) {
            List<String> args = new ArrayList<>(List.of("generate", "--model", GOLDEN.resolve("llama/model").toString(),
                    "--prompt", prompt, "--max-new-tokens", "8", "--json"));
            args.addAll(List.of(adapter));
            String[] result = run(args.toArray(String[]::new));
            assertThat(result[0]).as(result[2]).isEqualTo("0");
            JsonNode json = new ObjectMapper().readTree(result[1]);
            assertThat(json.get("prompt_ids").toString()).isEqualTo(golden.get("prompt").toString());
            List<Long> expected = new ArrayList<>();
            golden.at("/families/llama/" + (adapter.length == 0 ? "greedy" : "lora_greedy")).forEach(t -> expected.add(t.asLong()));
            List<Long> generated = new ArrayList<>();
            json.get("generated_ids").forEach(t -> generated.add(t.asLong()));
            // Python generated with eos disabled; generation_config.json's eos_token_id 2 stops the command there
            List<Long> upToEos = new ArrayList<>();
            for (long token : expected.subList(6, expected.size())) {
                upToEos.add(token);
                if (token == 2) {
                    break;
                }
            }
            assertThat(generated).isEqualTo(upToEos);
            assertThat(json.get("text").asText()).isNotBlank();
        }
    }

    @Test
    void aDirectoryWithoutAModelIsBadInput() {
        String[] result = run("generate", "--model", GOLDEN.toString(), "--prompt", "hi");
        assertThat(result[0]).isEqualTo("2");
        assertThat(result[2]).contains("peft4j generate: ").contains("no tokenizer.json");
    }
}
