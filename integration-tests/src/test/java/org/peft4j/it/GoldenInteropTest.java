package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;

/**
 * Files made by Python's transformers and PEFT ({@link GoldenFiles}: src/test/python/make_golden.py,
 * the versions in golden.json) load in peft4j and give Python's logits: a random
 * BertForSequenceClassification saved by {@code save_pretrained}, and seven SEQ_CLS adapters saved by
 * PEFT (LoRA on query and value; rsLoRA on all linear layers; prompt-tuning with RANDOM and TEXT
 * init; prefix-tuning with and without the projection MLP; DoRA on query and value, its magnitudes moved from their
 * start), each with its head in {@code modules_to_save}; and IA3 on PEFT's default BERT targets, its
 * vectors away from ones.
 */
class GoldenInteropTest {
    private static final double TOLERANCE = 1e-5;

    @Test
    void theBaseModelSavedByTransformersGivesItsLogits() throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GoldenFiles.BASE, manager);
            assertThat(base.labels()).containsExactly("ham", "spam", "unsure");
            assertThat(base.classifier().bert().hasPretrainedPooler()).isTrue();
            double diff = GoldenFiles.maxAbsDiff(GoldenFiles.logits(base.classifier(), GoldenFiles.inputs(manager)), GoldenFiles.json().at("/logits/base"));
            System.out.printf("base: max |logit difference| %.2e%n", diff);
            assertThat(diff).isLessThan(TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora", "lora-rslora-all-linear", "prompt-random", "prompt-text", "prefix", "prefix-projection", "ia3",
        "lora-dora"})
    void anAdapterSavedByPeftGivesPythonsLogits(String name) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GoldenFiles.BASE, manager);
            PeftModel peft = Peft.load(base.classifier(), GoldenFiles.DIR.resolve("adapters").resolve(name));
            double diff = GoldenFiles.maxAbsDiff(GoldenFiles.logits(base.classifier(), GoldenFiles.inputs(manager)), GoldenFiles.json().at("/logits/" + name));
            System.out.printf("%s: max |logit difference| %.2e%n", name, diff);
            assertThat(diff).isLessThan(TOLERANCE);
            // and the base comes back unchanged without the adapter
            peft.unload();
            assertThat(GoldenFiles.maxAbsDiff(GoldenFiles.logits(base.classifier(), GoldenFiles.inputs(manager)), GoldenFiles.json().at("/logits/base")))
                    .isLessThan(TOLERANCE);
        }
    }

    @Test
    void theTokenizerAndTextInitGiveWhatPythonGives() throws IOException {
        try (NDManager manager = NDManager.newBaseManager();
                BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(
                        GoldenFiles.BASE.resolve("tokenizer.json"), 32)) {
            List<String> texts = new ArrayList<>();
            GoldenFiles.json().at("/inputs/texts").forEach(t -> texts.add(t.asText()));
            NDList ours = tokenizer.encode(manager, texts);
            NDList theirs = GoldenFiles.inputs(manager);
            for (int i = 0; i < 3; i++) {
                assertThat(ours.get(i).toLongArray()).as("input %d", i).containsExactly(theirs.get(i).toLongArray());
            }
            ClassifierDirectory.Loaded base = ClassifierDirectory.load(GoldenFiles.BASE, manager);
            PeftModel peft = Peft.apply(base.classifier(), PromptTuningConfig.builder().setNumVirtualTokens(9)
                    .optPromptTuningInitText("is this spam or ham").optBaseModelNameOrPath("tiny-bert").build(), PeftModel.DEFAULT_ADAPTER, tokenizer);
            float[] ourPrompt = peft.adapter(PeftModel.DEFAULT_ADAPTER).stateDict().get("prompt_embeddings").toFloatArray();
            assertThat(GoldenFiles.maxAbsDiff(ourPrompt, GoldenFiles.json().get("text_init_prompt_embeddings"))).isZero();
        }
    }
}
