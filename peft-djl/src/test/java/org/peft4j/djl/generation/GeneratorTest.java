package org.peft4j.djl.generation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

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
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderFamilies;

/**
 * Generation with the tiny LLaMA and Qwen2 checkpoints that transformers 5.18 saved
 * (integration-tests/src/test/python/make_decoder_golden.py): Python's greedy tokens (with and
 * without PEFT's LoRA adapter), the cache changing nothing, left-padded batches, sampling,
 * stopping, memory, and transformers' processed next-token scores.
 */
class GeneratorTest {
    private static final Path DIR = Path.of("..", "integration-tests", "src", "test", "resources", "golden", "causal-lm");
    private static JsonNode golden;
    private static NDManager manager;
    private static final Map<String, CausalLanguageModel> MODELS = new HashMap<>();

    @BeforeAll
    static void load() throws IOException {
        golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        manager = NDManager.newBaseManager();
        for (String family : List.of("llama", "qwen2")) {
            MODELS.put(family, DecoderFamilies.fromHuggingFace(DIR.resolve(family).resolve("model"), manager));
        }
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void greedyTokensWithAndWithoutTheCacheArePythons(String family) {
        long[] prompt = ids(golden.get("prompt"));
        long[] greedy = ids(golden.at("/families/" + family + "/greedy"));
        long[] expected = Arrays.copyOfRange(greedy, prompt.length, greedy.length);
        GenerationConfig.Builder config = GenerationConfig.builder().optMaxNewTokens(expected.length);
        CausalLanguageModel model = MODELS.get(family);
        assertThat(new Generator(model, config.build()).generate(manager, prompt)).containsExactly(expected);
        assertThat(new Generator(model, config.optUseCache(false).build()).generate(manager, prompt))
                .containsExactly(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void greedyTokensWithALoraAdapterArePeftsTokens(String family) throws IOException {
        long[] prompt = ids(golden.get("prompt"));
        long[] greedy = ids(golden.at("/families/" + family + "/lora_greedy"));
        try (NDManager scope = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(DIR.resolve(family).resolve("model"), scope);
            Peft.load(model, DIR.resolve(family).resolve("lora"));
            long[] generated = new Generator(model, GenerationConfig.builder().optMaxNewTokens(greedy.length - prompt.length)
                    .build()).generate(scope, prompt);
            assertThat(generated).containsExactly(Arrays.copyOfRange(greedy, prompt.length, greedy.length));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void leftPaddedPromptsInOneBatchGiveTheTokensOfEachPromptAlone(String family) {
        List<long[]> prompts = List.of(ids(golden.get("prompt")), new long[] {1, 4, 5, 6}, new long[] {8});
        Generator generator = new Generator(MODELS.get(family),
                GenerationConfig.builder().optMaxNewTokens(8).optPadTokenId(0).build());
        long[][] batched = generator.generate(manager, prompts);
        for (int b = 0; b < prompts.size(); b++) {
            assertThat(batched[b]).as("row %d", b).containsExactly(generator.generate(manager, prompts.get(b)));
        }
    }

    @Test
    void samplingWithASeedRepeatsAndTopKOfOneIsGreedy() {
        CausalLanguageModel model = MODELS.get("llama");
        long[] prompt = ids(golden.get("prompt"));
        GenerationConfig.Builder sampling = GenerationConfig.builder().optDoSample(true).optTemperature(1.5)
                .optMaxNewTokens(10).optSeed(5);
        long[] first = new Generator(model, sampling.build()).generate(manager, prompt);
        assertThat(new Generator(model, sampling.build()).generate(manager, prompt)).containsExactly(first);
        assertThat(new Generator(model, sampling.optSeed(6).build()).generate(manager, prompt)).isNotEqualTo(first);
        assertThat(first).hasSize(10);

        long[] greedy = new Generator(model, GenerationConfig.builder().optMaxNewTokens(10).build())
                .generate(manager, prompt);
        assertThat(greedy).isNotEqualTo(first);
        assertThat(new Generator(model, sampling.optTopK(1).build()).generate(manager, prompt)).containsExactly(greedy);
    }

    @Test
    void eachRowStopsAtAnyEndTokenThenEmitsPaddingAndTheListenerSeesEachToken() {
        CausalLanguageModel model = MODELS.get("llama");
        List<long[]> prompts = List.of(ids(golden.get("prompt")), new long[] {1, 4, 5, 6});
        int maxNew = 10;
        long[][] free = new Generator(model, GenerationConfig.builder().optMaxNewTokens(maxNew).optPadTokenId(0).build())
                .generate(manager, prompts);
        // two end tokens, one from each row, such that row 0 stops first and row 1 before max_new_tokens
        List<Long> eos = null;
        int[] stop = null;
        for (int i = 0; i < maxNew && eos == null; i++) {
            for (int j = 0; j < maxNew && eos == null; j++) {
                List<Long> candidate = List.of(free[0][i], free[1][j]);
                int[] at = {firstOf(free[0], candidate), firstOf(free[1], candidate)};
                if (at[0] < at[1] && at[1] < maxNew - 1) {
                    eos = candidate;
                    stop = at;
                }
            }
        }
        assertThat(eos).as("end tokens that stop the rows at different steps, in %s", Arrays.deepToString(free))
                .isNotNull();
        long pad = 20;
        int steps = Math.max(stop[0], stop[1]) + 1;
        long[][] expected = new long[2][steps];
        for (int b = 0; b < 2; b++) {
            for (int t = 0; t < steps; t++) {
                expected[b][t] = t <= stop[b] ? free[b][t] : pad;
            }
        }
        List<List<Long>> heard = List.of(new ArrayList<>(), new ArrayList<>());
        long[][] stopped = new Generator(model, GenerationConfig.builder().optMaxNewTokens(maxNew).optEosTokenIds(eos)
                .optPadTokenId(pad).build()).generate(manager, prompts, (row, token) -> heard.get(row).add(token));
        assertThat(stopped).isDeepEqualTo(expected);
        for (int b = 0; b < 2; b++) {
            assertThat(heard.get(b)).containsExactlyElementsOf(boxed(Arrays.copyOf(free[b], stop[b] + 1)));
        }

        // an end token that never comes: max_new_tokens tokens
        long never = 3;
        assertThat(free[0]).doesNotContain(never);
        assertThat(new Generator(model, GenerationConfig.builder().optMaxNewTokens(3).optEosTokenId(never).build())
                .generate(manager, prompts.get(0))).containsExactly(Arrays.copyOf(free[0], 3));
    }

    @Test
    void memoryStaysFlatOverALongGenerationAndNothingIsLeftAttached() {
        CausalLanguageModel model = MODELS.get("llama");
        try (NDManager caller = manager.newSubManager()) {
            List<Integer> arrays = new ArrayList<>();
            long[] out = new Generator(model, GenerationConfig.builder().optMaxNewTokens(30).build())
                    .generate(caller, new long[] {1, 4}, (row, token) -> arrays.add(caller.getManagedArrays().size()));
            assertThat(out).hasSize(30);
            // during decoding: the cache (2 layers x keys, values) and nothing that grows with the steps
            assertThat(arrays).hasSize(30).containsOnly(2 * model.numLayers());
            assertThat(caller.getManagedArrays()).isEmpty();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void processedScoresArePythons(String family) {
        JsonNode settings = golden.get("sampling");
        GenerationConfig config = GenerationConfig.builder().optDoSample(settings.get("do_sample").asBoolean())
                .optRepetitionPenalty(settings.get("repetition_penalty").asDouble())
                .optTemperature(settings.get("temperature").asDouble()).optTopK(settings.get("top_k").asInt())
                .optTopP(settings.get("top_p").asDouble()).build();
        long[] prompt = ids(golden.get("prompt"));
        JsonNode expected = golden.at("/families/" + family + "/processed_scores");

        // Python's logits through Java's processors
        float[] pythonLogits = floats(golden.at("/families/" + family + "/next_token_logits"));
        double onPython = maxDiff(LogitsProcessing.process(config, pythonLogits, prompt, prompt.length), expected);
        // and the whole way in Java: the model's logits, then the processors
        float[] javaLogits;
        try (NDManager scope = manager.newSubManager()) {
            NDArray logits = MODELS.get(family).logits(new ParameterStore(scope, false),
                    scope.create(prompt, new Shape(1, prompt.length)), null, null, null, false);
            javaLogits = logits.get(new NDIndex("0, -1, :")).toFloatArray();
        }
        double onJava = maxDiff(LogitsProcessing.process(config, javaLogits, prompt, prompt.length), expected);
        System.out.printf("%s: processed scores vs transformers: %.2e (Python's logits), %.2e (Java's logits)%n",
                family, onPython, onJava);
        assertThat(onPython).isLessThanOrEqualTo(1e-5);
        assertThat(onJava).isLessThanOrEqualTo(1e-5);
    }

    @Test
    void badPromptsAreRefused() {
        Generator generator = new Generator(MODELS.get("llama"), GenerationConfig.builder().build());
        assertThatThrownBy(() -> generator.generate(manager, new long[0])).hasMessageContaining("empty");
        assertThatThrownBy(() -> generator.generate(manager, new long[] {1, 21}))
                .hasMessageContaining("21").hasMessageContaining("vocabulary of 21");
        assertThatThrownBy(() -> generator.generate(manager, List.of(new long[] {1, 2}, new long[] {1})))
                .hasMessageContaining("pad_token_id");
        assertThatThrownBy(() -> new Generator(MODELS.get("llama"), GenerationConfig.builder().optPadTokenId(21).build())
                .generate(manager, new long[] {1})).hasMessageContaining("padding token 21");
    }

    /** The difference where Python kept a token (Java must keep the same ones; null = removed). */
    private static double maxDiff(float[] actual, JsonNode expected) {
        assertThat(actual).hasSize(expected.size());
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            if (expected.get(i).isNull()) {
                assertThat(actual[i]).as("token %d is removed", i).isEqualTo(Float.NEGATIVE_INFINITY);
            } else {
                assertThat((double) actual[i]).as("token %d", i).isCloseTo(expected.get(i).asDouble(), within(1e-3));
                max = Math.max(max, Math.abs(actual[i] - expected.get(i).asDouble()));
            }
        }
        return max;
    }

    private static int firstOf(long[] tokens, List<Long> eos) {
        Set<Long> set = Set.copyOf(eos);
        for (int t = 0; t < tokens.length; t++) {
            if (set.contains(tokens[t])) {
                return t;
            }
        }
        return tokens.length;
    }

    private static List<Long> boxed(long[] values) {
        return Arrays.stream(values).boxed().toList();
    }

    private static long[] ids(JsonNode array) {
        long[] ids = new long[array.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = array.get(i).asLong();
        }
        return ids;
    }

    private static float[] floats(JsonNode array) {
        float[] values = new float[array.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) array.get(i).asDouble();
        }
        return values;
    }
}
