package org.peft4j.djl.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.inference.streaming.StreamingTranslator.StreamOutput;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.GenerationTokenizer;
import org.peft4j.djl.generation.Generator;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderDirectory;
import org.peft4j.djl.models.DecoderFamilies;

/**
 * A language model served the DJL way ({@code Criteria} -> {@code ZooModel} ->
 * {@code Predictor<String, String>} and {@code Predictor<String, TextStream>}): the tiny LLaMA
 * checkpoint that transformers saved (the golden directory, with its WordLevel tokenizer.json and
 * generation_config.json: end token 2, padding 0) with a LoRA adapter saved by peft4j, the same model
 * merged and exported, and PEFT's prompt-tuning adapter give the text of {@link Generator} and
 * {@link GenerationTokenizer#decode} on the same model, token for token; prompts served as chat
 * are rendered with the model's chat template first.
 */
class TextGenerationServingTest {
    private static final Path MODEL = Path.of("..", "integration-tests", "src", "test", "resources", "golden",
            "causal-lm", "llama", "model").toAbsolutePath().normalize();
    private static final Path PROMPT_TUNING = MODEL.resolveSibling("prompt");
    private static final int MAX_NEW_TOKENS = 8;
    private static final List<String> PROMPTS = List.of("what is the answer", "the cat sat on",
            "<s> a dog ran to the park ?", "yes");

    @TempDir
    static Path dir;
    static Path adapter;
    static Path merged;
    static GenerationTokenizer tokenizer;
    /** Generator + decode: the base alone, with the LoRA adapter, with PEFT's prompt-tuning adapter. */
    static List<String> base;
    static List<String> expected;
    static List<String> expectedPromptTuning;

    @BeforeAll
    static void fineTune() throws Exception {
        Engine.getInstance().setRandomSeed(3); // the adapter's random weights
        tokenizer = GenerationTokenizer.fromModelDirectory(MODEL);
        adapter = dir.resolve("run");
        merged = dir.resolve("merged");
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(MODEL, manager);
            base = generate(model, manager, UnaryOperator.identity());
            PeftModel peft = Peft.apply(model, LoraConfig.builder().optR(4).optLoraAlpha(16f)
                    .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("q_proj", "v_proj")
                    .optBaseModelNameOrPath(MODEL.toString()).build());
            peft.saveAdapter(adapter);
            expected = generate(model, manager, UnaryOperator.identity());
            peft.mergeAndUnload();
            DecoderDirectory.save(model, MODEL, merged);

            CausalLanguageModel prompted = DecoderFamilies.fromHuggingFace(MODEL, manager);
            Peft.load(prompted, PROMPT_TUNING);
            expectedPromptTuning = generate(prompted, manager, UnaryOperator.identity());
        }
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    /** Each prompt alone through the library's Generator with the directory's settings, then decode. */
    private static List<String> generate(CausalLanguageModel model, NDManager manager,
            UnaryOperator<GenerationConfig.Builder> settings) throws Exception {
        Generator generator = new Generator(model,
                settings.apply(GenerationConfig.builder(MODEL).optMaxNewTokens(MAX_NEW_TOKENS)).build());
        List<String> texts = new ArrayList<>();
        for (String prompt : PROMPTS) {
            texts.add(tokenizer.decode(generator.generate(manager, tokenizer.encode(prompt))));
        }
        return texts;
    }

    private static Criteria.Builder<String, String> criteria(Path directory) {
        return PeftCriteria.builder(String.class, String.class, directory)
                .optArgument(TextGenerationServing.MAX_NEW_TOKENS, MAX_NEW_TOKENS);
    }

    /** predict one prompt at a time, then batchPredict all of them (left-padded, one Generator run). */
    private static List<List<String>> predictOneByOneAndBatched(Criteria<String, String> criteria) throws Exception {
        try (ZooModel<String, String> model = criteria.loadModel(); Predictor<String, String> predictor = model.newPredictor()) {
            List<String> single = new ArrayList<>();
            for (String prompt : PROMPTS) {
                single.add(predictor.predict(prompt));
            }
            return List.of(single, predictor.batchPredict(PROMPTS));
        }
    }

    @Test
    void anAdapterDirectoryGeneratesTheGeneratorsTextOneByOneAndBatched() throws Exception {
        List<List<String>> predicted = predictOneByOneAndBatched(criteria(adapter).build());
        System.out.printf("adapter directory through Criteria: %s (base: %s, prompt-tuning: %s)%n", predicted.get(0), base,
                expectedPromptTuning);
        assertThat(predicted.get(0)).containsExactlyElementsOf(expected);
        assertThat(predicted.get(1)).containsExactlyElementsOf(expected);
        // the adapter changes the text, and the prompts get different texts of different lengths
        assertThat(expected).isNotEqualTo(base).doesNotHaveDuplicates();
        assertThat(expected.stream().map(t -> t.split(" ").length).distinct().count()).isGreaterThan(1);
    }

    @Test
    void anExportedMergedDirectoryGeneratesWhatBaseAndAdapterGenerate() throws Exception {
        assertThat(FineTunedDirectory.read(merged, Map.of()).taskType()).isEqualTo(TaskType.CAUSAL_LM);
        PeftCriteria.writeServingProperties(merged);
        Criteria<String, String> plain = Criteria.builder().setTypes(String.class, String.class).optModelPath(merged)
                .optTranslatorFactory(new PeftTranslatorFactory())
                .optArgument(TextGenerationServing.MAX_NEW_TOKENS, String.valueOf(MAX_NEW_TOKENS)).build();
        List<List<String>> predicted = predictOneByOneAndBatched(plain);
        assertThat(predicted.get(0)).containsExactlyElementsOf(expected);
        assertThat(predicted.get(1)).containsExactlyElementsOf(expected);
    }

    @Test
    void aPromptTuningAdapterGeneratesThroughItsVirtualTokens() throws Exception {
        List<List<String>> predicted = predictOneByOneAndBatched(criteria(PROMPT_TUNING)
                .optArgument(FineTunedDirectory.BASE, MODEL.toString()).build());
        assertThat(predicted.get(0)).containsExactlyElementsOf(expectedPromptTuning);
        assertThat(predicted.get(1)).containsExactlyElementsOf(expectedPromptTuning);
        assertThat(expectedPromptTuning).isNotEqualTo(base);
    }

    @Test
    void streamedPiecesArriveWhileGeneratingAndAddUpToTheText() throws Exception {
        Criteria<String, TextStream> criteria = PeftCriteria.builder(String.class, TextStream.class, adapter)
                .optArgument(TextGenerationServing.MAX_NEW_TOKENS, MAX_NEW_TOKENS).build();
        ExecutorService worker = Executors.newSingleThreadExecutor();
        try (ZooModel<String, TextStream> model = criteria.loadModel();
                Predictor<String, TextStream> predictor = model.newPredictor()) {
            assertThat(predictor.supportsStreaming()).isTrue();
            for (int i = 0; i < PROMPTS.size(); i++) {
                StreamOutput<TextStream> output = predictor.streamingPredict(PROMPTS.get(i));
                TextStream text = output.getAsyncOutput();
                assertThat(text.isEnded()).isFalse();
                Future<?> generation = worker.submit(output::computeAsyncOutput);
                List<String> pieces = new ArrayList<>();
                text.forEach(pieces::add);
                generation.get();
                assertThat(String.join("", pieces)).isEqualTo(expected.get(i));
                assertThat(pieces).hasSize(expected.get(i).isEmpty() ? 0 : expected.get(i).split(" ").length);
                // predict gives the whole stream at once
                assertThat(predictor.predict(PROMPTS.get(i)).text()).isEqualTo(expected.get(i));
            }
            assertThatThrownBy(() -> predictor.streamingPredict(PROMPTS.get(0)).getIterativeOutput())
                    .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("getAsyncOutput");
        } finally {
            worker.shutdownNow();
        }
    }

    @Test
    void criteriaArgumentsOverrideTheGenerationConfig() throws Exception {
        UnaryOperator<GenerationConfig.Builder> sampling = b -> b.optDoSample(true).optTemperature(1.5).optTopK(10)
                .optTopP(0.9).optRepetitionPenalty(1.2).optSeed(7);
        List<String> sampled;
        try (NDManager manager = NDManager.newBaseManager()) {
            CausalLanguageModel model = DecoderFamilies.fromHuggingFace(MODEL, manager);
            Peft.load(model, adapter);
            sampled = generate(model, manager, sampling);
        }
        Criteria<String, String> criteria = criteria(adapter).optArgument(TextGenerationServing.DO_SAMPLE, "true")
                .optArgument(TextGenerationServing.TEMPERATURE, 1.5).optArgument(TextGenerationServing.TOP_K, 10)
                .optArgument(TextGenerationServing.TOP_P, "0.9").optArgument(TextGenerationServing.REPETITION_PENALTY, 1.2)
                .optArgument(TextGenerationServing.SEED, 7).build();
        try (ZooModel<String, String> model = criteria.loadModel(); Predictor<String, String> predictor = model.newPredictor()) {
            List<String> predicted = new ArrayList<>();
            for (String prompt : PROMPTS) {
                predicted.add(predictor.predict(prompt));
            }
            assertThat(predicted).containsExactlyElementsOf(sampled);
        }
        assertThat(sampled).isNotEqualTo(expected);
    }

    /** A copy of the model whose tokenizer_config.json has a chat template in the golden vocabulary. */
    private static Path chatModel() throws Exception {
        Path chat = Files.createDirectories(dir.resolve("chat-model"));
        for (String file : List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(MODEL.resolve(file), chat.resolve(file), StandardCopyOption.REPLACE_EXISTING);
        }
        Files.writeString(chat.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\","
                + " \"chat_template\": \"{{ bos_token }} {% for m in messages %}{% if m['role'] == 'system' %}"
                + "{{ m['content'] }} . {% else %}what is {{ m['content'] }} ? {% endif %}{% endfor %}"
                + "{% if add_generation_prompt %}answer {% endif %}\"}");
        return chat;
    }

    @Test
    void chatPromptsAreRenderedWithTheModelsTemplateAndEncodedWithoutAddedSpecialTokens() throws Exception {
        Path chat = chatModel();
        String rendered = "<s> yes . what is the cat ? answer ";
        String expectedText;
        try (NDManager manager = NDManager.newBaseManager()) {
            long[] ids = tokenizer.encodeWithoutSpecialTokens(rendered);
            assertThat(ids).containsExactly(1, 17, 20, 14, 15, 4, 5, 19, 16);
            expectedText = tokenizer.decode(new Generator(DecoderFamilies.fromHuggingFace(chat, manager),
                    GenerationConfig.builder(chat).optMaxNewTokens(MAX_NEW_TOKENS).build()).generate(manager, ids));
        }
        Criteria<String, String> criteria = criteria(chat).optArgument(TextGenerationServing.APPLY_CHAT_TEMPLATE, true)
                .optArgument(TextGenerationServing.SYSTEM, "yes").build();
        try (ZooModel<String, String> model = criteria.loadModel(); Predictor<String, String> predictor = model.newPredictor()) {
            assertThat(predictor.predict("the cat")).isEqualTo(expectedText);
            assertThat(predictor.batchPredict(List.of("the cat", "a dog"))).first().isEqualTo(expectedText);
        }
        // LLaMA-Factory's named templates: stop words the vocabulary lacks do not make the unknown token a stop word
        assertThat(ChatPrompts.of(chat, Map.of(TextGenerationServing.TEMPLATE, "chatml")).stopTokenIds(tokenizer)).isEmpty();
        assertThatThrownBy(() -> criteria(chat).optArgument(TextGenerationServing.TEMPLATE, "nope").build().loadModel())
                .hasMessageContaining("unknown template \"nope\"").hasMessageContaining("chatml");
        assertThatThrownBy(() -> criteria(MODEL).optArgument(TextGenerationServing.APPLY_CHAT_TEMPLATE, true).build()
                .loadModel()).hasMessageContaining("has no chat_template");
        assertThatThrownBy(() -> criteria(chat).optArgument(TextGenerationServing.SYSTEM, "yes").build().loadModel())
                .hasMessageContaining("\"system\" needs a chat template");
    }

    @Test
    void aModelWithoutTokenizerJsonIsRefusedNamingTheFile() throws Exception {
        Path noTokenizer = Files.createDirectories(dir.resolve("no-tokenizer"));
        for (String file : List.of("config.json", "generation_config.json", "model.safetensors")) {
            Files.copy(MODEL.resolve(file), noTokenizer.resolve(file));
        }
        assertThatThrownBy(() -> criteria(noTokenizer).build().loadModel())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(noTokenizer.toString())
                .hasMessageContaining("no tokenizer.json");
        // an adapter whose base lacks it
        assertThatThrownBy(() -> criteria(adapter).optArgument(FineTunedDirectory.BASE, noTokenizer.toString()).build()
                .loadModel()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(noTokenizer.toString())
                .hasMessageContaining("tokenizer.json");
    }

    @Test
    void argumentValuesOfTheWrongKindOrRangeAreRefusedByName() {
        assertThatThrownBy(() -> criteria(adapter).optArgument(TextGenerationServing.DO_SAMPLE, "maybe").build()
                .loadModel()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("\"do_sample\" is \"maybe\"; expected true or false");
        assertThatThrownBy(() -> criteria(adapter).optArgument(TextGenerationServing.TEMPERATURE, "hot").build()
                .loadModel()).hasMessageContaining("\"temperature\" is \"hot\"; expected a number");
        assertThatThrownBy(() -> criteria(adapter).optArgument(TextGenerationServing.MAX_NEW_TOKENS, 2.5).build()
                .loadModel()).hasMessageContaining("\"max_new_tokens\" is \"2.5\"; expected an integer");
        assertThatThrownBy(() -> criteria(adapter).optArgument(TextGenerationServing.TOP_P, 1.5).build().loadModel())
                .hasMessageContaining("generation_config.json and the Criteria arguments")
                .hasMessageContaining("top_p must be in [0, 1], got 1.5");
    }
}
