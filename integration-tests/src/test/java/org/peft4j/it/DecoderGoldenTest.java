package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderFamilies;
import org.peft4j.djl.models.KeyValueCache;

/**
 * Causal language models saved by Python's transformers, and LoRA adapters saved by PEFT for
 * them (src/test/python/make_decoder_golden.py, the versions in golden.json), load in peft4j and
 * give Python's logits on a batch whose second row is left-padded, with generate()'s position ids;
 * greedy decoding with the key/value cache gives Python's tokens; prompt- and prefix-tuning
 * adapters (CAUSAL_LM; LLaMA's prefixes sized by the key/value heads, GPT-2's by n_embd) give
 * Python's logits too.
 */
class DecoderGoldenTest {
    private static final Path DIR = Path.of("src", "test", "resources", "golden", "causal-lm");
    private static final double TOLERANCE = 1e-4;

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "gpt2"})
    void aModelSavedByTransformersGivesItsLogitsAndGreedyTokens(String family) throws IOException {
        JsonNode golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(DIR.resolve(family).resolve("model"), manager);
            double diff = maxRealDiff(logits(model, golden, manager), golden, "/families/" + family + "/logits");
            System.out.printf("%s: max |logit difference| %.2e%n", family, diff);
            assertThat(diff).isLessThan(TOLERANCE);

            List<Long> expected = new ArrayList<>();
            golden.at("/families/" + family + "/greedy").forEach(t -> expected.add(t.asLong()));
            List<Long> prompt = new ArrayList<>();
            golden.get("prompt").forEach(t -> prompt.add(t.asLong()));
            assertThat(greedy(model, prompt, expected.size() - prompt.size(), manager, true)).isEqualTo(expected);
            assertThat(greedy(model, prompt, expected.size() - prompt.size(), manager, false)).isEqualTo(expected);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2", "gpt2"})
    void aLoraAdapterSavedByPeftGivesPythonsLogits(String family) throws IOException {
        JsonNode golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(DIR.resolve(family).resolve("model"), manager);
            PeftModel peft = Peft.load(model, DIR.resolve(family).resolve("lora"));
            // PEFT records fan_in_fan_out for Conv1D targets (GPT-2's c_attn); peft4j reads it and sets it the same way
            assertThat(((LoraConfig) peft.adapter(peft.activeAdapter()).config()).fanInFanOut())
                    .isEqualTo(golden.at("/families/" + family + "/lora_fan_in_fan_out").asBoolean());
            NDArray unmerged = logits(model, golden, manager);
            double diff = maxRealDiff(unmerged, golden, "/families/" + family + "/lora_logits");
            System.out.printf("%s + LoRA: max |logit difference| %.2e%n", family, diff);
            assertThat(diff).isLessThan(TOLERANCE);

            peft.mergeAndUnload();
            double merged = maxDiff(logits(model, golden, manager), unmerged);
            System.out.printf("%s + LoRA merged: max |logit difference| from unmerged %.2e%n", family, merged);
            assertThat(merged).isLessThan(1e-5);
        }
    }

    /**
     * PEFT's forward ignores position ids for prompt learning, so positions count from the first
     * virtual token (GPT-2's learned positions included: the prompt's vectors get positions 0 to
     * n - 1, a prefix shifts the real tokens by n).
     */
    @ParameterizedTest
    @CsvSource({"llama, prompt", "llama, prefix", "llama, prefix-projection", "gpt2, prompt", "gpt2, prefix",
        "gpt2, prefix-projection"})
    void promptAndPrefixAdaptersSavedByPeftGivePythonsLogits(String family, String adapter) throws IOException {
        JsonNode golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(DIR.resolve(family).resolve("model"), manager);
            Peft.load(model, DIR.resolve(family).resolve(adapter));
            NDArray logits = model.logits(new ParameterStore(manager, false), matrix(manager, golden.get("input_ids")),
                    matrix(manager, golden.get("attention_mask")), null, null, false);
            double diff = maxRealDiff(logits, golden, "/families/" + family + "/virtual/" + adapter);
            System.out.printf("%s + %s: max |logit difference| %.2e%n", family, adapter, diff);
            assertThat(diff).isLessThan(TOLERANCE);
        }
    }

    private static NDArray logits(CausalLanguageModel model, JsonNode golden, NDManager manager) {
        return model.logits(new ParameterStore(manager, false), matrix(manager, golden.get("input_ids")),
                matrix(manager, golden.get("attention_mask")), matrix(manager, golden.get("position_ids")), null, false);
    }

    /** Greedy decoding of {@code steps} tokens, each step feeding only the new token to the cache, or the whole sequence. */
    private static List<Long> greedy(CausalLanguageModel model, List<Long> prompt, int steps, NDManager manager,
            boolean cached) {
        List<Long> tokens = new ArrayList<>(prompt);
        KeyValueCache cache = cached ? new KeyValueCache(model.numLayers()) : null;
        try (NDManager scope = manager.newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            List<Long> feed = tokens;
            for (int i = 0; i < steps; i++) {
                NDArray ids = scope.create(feed.stream().mapToLong(Long::longValue).toArray(), new Shape(1, feed.size()));
                NDArray logits = model.logits(ps, ids, null, null, cache, false);
                long next = logits.get(new NDIndex("0, -1, :")).argMax().getLong();
                tokens.add(next);
                feed = cached ? List.of(next) : tokens;
            }
        }
        return tokens;
    }

    /** The largest difference between two [B, T, vocab] logits, over every position. */
    private static double maxDiff(NDArray actual, NDArray expected) {
        return actual.sub(expected).abs().max().getFloat();
    }

    /** The largest difference over the real (unpadded) positions. */
    private static double maxRealDiff(NDArray actual, JsonNode golden, String pointer) {
        JsonNode expected = golden.at(pointer);
        JsonNode mask = golden.get("attention_mask");
        long vocab = actual.getShape().get(2);
        float[] values = actual.toFloatArray();
        double max = 0;
        for (int b = 0; b < expected.size(); b++) {
            for (int t = 0; t < expected.get(b).size(); t++) {
                if (mask.get(b).get(t).asInt() == 0) {
                    continue;
                }
                for (int v = 0; v < vocab; v++) {
                    double e = expected.get(b).get(t).get(v).asDouble();
                    max = Math.max(max, Math.abs(values[(int) ((b * expected.get(b).size() + t) * vocab + v)] - e));
                }
            }
        }
        return max;
    }

    private static NDArray matrix(NDManager manager, JsonNode rows) {
        int cols = rows.get(0).size();
        long[] flat = new long[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < cols; c++) {
                flat[r * cols + c] = rows.get(r).get(c).asLong();
            }
        }
        return manager.create(flat, new Shape(rows.size(), cols));
    }
}
