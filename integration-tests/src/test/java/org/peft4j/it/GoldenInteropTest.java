package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.bert.ClassifierDirectory;

/**
 * Files made by Python's transformers and PEFT (src/test/python/make_golden.py, the versions in
 * golden.json) load in peft4j and give Python's logits: a random BertForSequenceClassification
 * saved by {@code save_pretrained}, and six SEQ_CLS adapters saved by PEFT (LoRA on query and
 * value; rsLoRA on all linear layers; prompt-tuning with RANDOM and TEXT init; prefix-tuning with
 * and without the projection MLP), each with its head in {@code modules_to_save}.
 */
class GoldenInteropTest {
    static final Path GOLDEN = Path.of("src", "test", "resources", "golden", "bert-seq-cls");
    static final double TOLERANCE = 1e-5;
    private static JsonNode golden;

    @BeforeAll
    static void read() throws IOException {
        golden = new ObjectMapper().readTree(GOLDEN.resolve("golden.json").toFile());
    }

    /** The golden inputs as the classifier takes them: input_ids, attention_mask, token_type_ids. */
    static NDList inputs(NDManager manager) {
        JsonNode in = golden.get("inputs");
        return new NDList(matrix(manager, in.get("input_ids")), matrix(manager, in.get("attention_mask")),
                matrix(manager, in.get("token_type_ids")));
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

    static float[] logits(Block classifier, NDList inputs) {
        return classifier.forward(new ParameterStore(inputs.head().getManager(), false), inputs, false)
                .singletonOrThrow().toFloatArray();
    }

    static double maxAbsDiff(float[] actual, JsonNode expected) {
        List<Double> flat = new ArrayList<>();
        expected.forEach(row -> row.forEach(v -> flat.add(v.asDouble())));
        assertThat(actual).hasSize(flat.size());
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            max = Math.max(max, Math.abs(actual[i] - flat.get(i)));
        }
        return max;
    }

    @Test
    void theBaseModelSavedByTransformersGivesItsLogits() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GOLDEN.resolve("tiny-bert"), manager);
            assertThat(base.labels()).containsExactly("ham", "spam", "unsure");
            assertThat(base.classifier().bert().hasPretrainedPooler()).isTrue();
            double diff = maxAbsDiff(logits(base.classifier(), inputs(manager)), golden.at("/logits/base"));
            System.out.printf("base: max |logit difference| %.2e%n", diff);
            assertThat(diff).isLessThan(TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "lora-rslora-all-linear", "prompt-random", "prompt-text", "prefix", "prefix-projection"})
    void anAdapterSavedByPeftGivesPythonsLogits(String name) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GOLDEN.resolve("tiny-bert"), manager);
            PeftModel peft = Peft.load(base.classifier(), GOLDEN.resolve("adapters").resolve(name));
            double diff = maxAbsDiff(logits(base.classifier(), inputs(manager)), golden.at("/logits/" + name));
            System.out.printf("%s: max |logit difference| %.2e%n", name, diff);
            assertThat(diff).isLessThan(TOLERANCE);
            // and the base comes back unchanged without the adapter
            peft.unload();
            assertThat(maxAbsDiff(logits(base.classifier(), inputs(manager)), golden.at("/logits/base")))
                    .isLessThan(TOLERANCE);
        }
    }

    @Test
    void theTokenizerAndTextInitGiveWhatPythonGives() throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(
                        GOLDEN.resolve("tiny-bert").resolve("tokenizer.json"), 32)) {
            List<String> texts = new ArrayList<>();
            golden.at("/inputs/texts").forEach(t -> texts.add(t.asText()));
            NDList ours = tokenizer.encode(manager, texts);
            NDList theirs = inputs(manager);
            for (int i = 0; i < 3; i++) {
                assertThat(ours.get(i).toLongArray()).as("input %d", i).containsExactly(theirs.get(i).toLongArray());
            }
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GOLDEN.resolve("tiny-bert"), manager);
            PeftModel peft = Peft.apply(base.classifier(), PromptTuningConfig.builder().numVirtualTokens(9)
                    .initText("is this spam or ham").baseModelNameOrPath("tiny-bert").build(), PeftModel.DEFAULT_ADAPTER, tokenizer);
            float[] ourPrompt = peft.adapter(PeftModel.DEFAULT_ADAPTER).stateDict().get("prompt_embeddings").toFloatArray();
            assertThat(maxAbsDiff(ourPrompt, golden.get("text_init_prompt_embeddings"))).isZero();
        }
    }
}
