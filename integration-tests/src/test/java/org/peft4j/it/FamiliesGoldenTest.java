package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * Files made by Python's transformers and PEFT for the encoder families beyond BERT
 * (src/test/python/make_golden.py --families, versions in each golden.json) load in peft4j and give
 * Python's logits: a random RobertaForSequenceClassification and DistilBertForSequenceClassification
 * saved by {@code save_pretrained}, on a padded batch, and their SEQ_CLS adapters saved by PEFT
 * (LoRA on PEFT's default RoBERTa targets and on DistilBERT's q_lin and v_lin, prompt-tuning, and
 * prefix-tuning on RoBERTa), each with its head in {@code modules_to_save}.
 */
class FamiliesGoldenTest {
    private static final double TOLERANCE = 1e-5;
    private static final Path DIR = Path.of("src", "test", "resources", "golden", "families");

    private static JsonNode golden(String family) throws IOException {
        return new ObjectMapper().readTree(DIR.resolve(family + "-seq-cls").resolve("golden.json").toFile());
    }

    private static Path base(String family) {
        return DIR.resolve(family + "-seq-cls").resolve("tiny-" + family);
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

    private static NDList inputs(NDManager manager, JsonNode golden) {
        return new NDList(matrix(manager, golden.at("/inputs/input_ids")), matrix(manager, golden.at("/inputs/attention_mask")));
    }

    @ParameterizedTest
    @CsvSource({"roberta, RobertaForSequenceClassification", "distilbert, DistilBertForSequenceClassification"})
    void theBaseModelSavedByTransformersGivesItsLogits(String family, String architecture) throws IOException {
        JsonNode golden = golden(family);
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.LoadedClassifier base = ClassifierDirectory.read(base(family), manager);
            assertThat(base.labels()).containsExactly("ham", "spam", "unsure");
            assertThat(base.classifier().architecture()).isEqualTo(architecture);
            double diff = GoldenFiles.maxAbsDiff(GoldenFiles.logits(base.classifier(), inputs(manager, golden)),
                    golden.at("/logits/base"));
            System.out.printf("%s base: max |logit difference| %.2e%n", family, diff);
            assertThat(diff).isLessThan(TOLERANCE);
            // the encoder alone, as PretrainedEncoder finds it, is the classifier's encoder
            assertThat(PretrainedEncoder.huggingFace(base(family)).loadEncoder(manager).modelType()).isEqualTo(family);
        }
    }

    @ParameterizedTest
    @CsvSource({"roberta, lora", "roberta, prompt", "roberta, prefix", "distilbert, lora", "distilbert, prompt"})
    void anAdapterSavedByPeftGivesPythonsLogits(String family, String adapter) throws IOException {
        JsonNode golden = golden(family);
        try (NDManager manager = NDManager.newBaseManager()) {
            TextClassifier classifier = ClassifierDirectory.read(base(family), manager).classifier();
            PeftModel peft = Peft.load(classifier, DIR.resolve(family + "-seq-cls").resolve("adapters").resolve(adapter));
            double diff = GoldenFiles.maxAbsDiff(GoldenFiles.logits(classifier, inputs(manager, golden)),
                    golden.at("/logits/" + adapter));
            System.out.printf("%s %s: max |logit difference| %.2e%n", family, adapter, diff);
            assertThat(diff).isLessThan(TOLERANCE);
            peft.unload();
            assertThat(GoldenFiles.maxAbsDiff(GoldenFiles.logits(classifier, inputs(manager, golden)),
                    golden.at("/logits/base"))).isLessThan(TOLERANCE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"roberta", "distilbert"})
    void theTokenizerPadsWithItsOwnPadIdAsPythonDoes(String family) throws IOException {
        JsonNode golden = golden(family);
        try (NDManager manager = NDManager.newBaseManager();
                BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(base(family).resolve("tokenizer.json"), 32)) {
            assertThat(tokenizer.padId()).isEqualTo(golden.get("pad_token_id").asLong());
            List<String> texts = new ArrayList<>();
            golden.at("/inputs/texts").forEach(t -> texts.add(t.asText()));
            NDList ours = tokenizer.encode(manager, texts);
            NDList theirs = inputs(manager, golden);
            for (int i = 0; i < 2; i++) {
                assertThat(ours.get(i).toLongArray()).as("input %d", i).containsExactly(theirs.get(i).toLongArray());
            }
        }
    }
}
