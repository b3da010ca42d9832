package org.peft4j.djl.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.inference.Predictor;
import ai.djl.modality.Classifications;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.Criteria;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * A fine-tuned classifier served the DJL way ({@code Criteria} -> {@code ZooModel} ->
 * {@code Predictor<String, Classifications>}): an adapter directory as {@code peft4j train} writes it
 * and a merged directory as {@code peft4j export} writes it give the probabilities of the library's
 * own forward pass, one text at a time and with {@code batchPredict}.
 */
class DjlServingTest {
    private static final List<String> LABELS = List.of("ham", "spam", "other");
    private static final int CUTOFF = 32;
    private static final List<String> TEXTS = List.of(
            "WIN a FREE cruise!!! Click now to claim your prize",
            "Minutes of Tuesday's meeting attached, comments welcome",
            "ok",
            "Re: [SAdev] bug 1234 | I think the rule scores need another look before the release, and the"
                    + " corpus too; this sentence is long enough to be cut at the run's token limit of thirty-two");

    @TempDir
    static Path dir;
    static Path adapter;
    static Path merged;
    static NDManager manager;
    /** The library's own forward: [text][label] probabilities, with the adapter attached and merged. */
    static float[][] expected;
    static float[][] expectedMerged;

    @BeforeAll
    static void fineTune() throws Exception {
        manager = NDManager.newBaseManager();
        BertSequenceClassifier classifier = new BertSequenceClassifier(PretrainedEncoder.ALL_MINILM_L6_V2.load(manager),
                LABELS.size()).initializeHead(manager);
        PeftModel peft = Peft.apply(classifier, LoraConfig.builder().optR(4).optLoraAlpha(8f)
                .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query", "value").build());
        adapter = dir.resolve("run");
        peft.saveAdapter(adapter);
        // the run record peft4j train writes beside the adapter
        Files.writeString(adapter.resolve(FineTunedDirectory.RUN_RECORD), "{\"model_name_or_path\": \"all-MiniLM-L6-v2\","
                + " \"finetuning_type\": \"lora\", \"cutoff_len\": " + CUTOFF + ", \"text_column\": \"text\","
                + " \"label_column\": \"label\", \"split_column\": \"split\", \"labels\": [\"ham\", \"spam\", \"other\"],"
                + " \"seed\": 42, \"merged_adapters\": []}");
        try (BertTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(CUTOFF)) {
            expected = probabilities(classifier, tokenizer);
            peft.mergeAndUnload();
            expectedMerged = probabilities(classifier, tokenizer);
        }
        merged = dir.resolve("merged");
        try (InputStream in = DjlServingTest.class.getResourceAsStream(PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer())) {
            ClassifierDirectory.save(classifier, LABELS, merged, Map.of("tokenizer.json", in.readAllBytes()));
        }
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static float[][] probabilities(BertSequenceClassifier classifier, BertTokenizer tokenizer) {
        NDList inputs = tokenizer.encode(manager, TEXTS);
        float[] flat = classifier.forward(new ParameterStore(manager, false), inputs, false).singletonOrThrow()
                .softmax(1).toFloatArray();
        float[][] out = new float[TEXTS.size()][LABELS.size()];
        for (int i = 0; i < TEXTS.size(); i++) {
            System.arraycopy(flat, i * LABELS.size(), out[i], 0, LABELS.size());
        }
        return out;
    }

    /** The largest difference between the predicted and the expected probabilities, checking the labels. */
    private static double worst(List<Classifications> predicted, float[][] expected) {
        double worst = 0;
        for (int i = 0; i < predicted.size(); i++) {
            assertThat(predicted.get(i).getClassNames()).containsExactlyElementsOf(LABELS);
            for (int j = 0; j < LABELS.size(); j++) {
                worst = Math.max(worst, Math.abs(predicted.get(i).get(LABELS.get(j)).getProbability() - expected[i][j]));
            }
        }
        return worst;
    }

    private static double[] predictOneByOneAndBatched(Criteria<String, Classifications> criteria, float[][] expected)
            throws Exception {
        try (ZooModel<String, Classifications> model = criteria.loadModel();
                Predictor<String, Classifications> predictor = model.newPredictor()) {
            List<Classifications> single = new java.util.ArrayList<>();
            for (String text : TEXTS) {
                single.add(predictor.predict(text));
            }
            List<Classifications> batched = predictor.batchPredict(TEXTS);
            assertThat(batched).hasSize(TEXTS.size());
            return new double[] {worst(single, expected), worst(batched, expected)};
        }
    }

    @Test
    void anAdapterDirectoryPredictsAsTheLibraryDoes() throws Exception {
        double[] worst = predictOneByOneAndBatched(
                PeftCriteria.builder(String.class, Classifications.class, adapter).build(), expected);
        System.out.printf("adapter directory through Criteria: predict %.3g, batchPredict %.3g%n", worst[0], worst[1]);
        assertThat(worst[0]).isLessThanOrEqualTo(1e-6);
        assertThat(worst[1]).isLessThanOrEqualTo(1e-6);
        // the probabilities differ between texts, so equal ones are not an accident of a constant model
        assertThat((double) Math.abs(expected[0][1] - expected[1][1])).isGreaterThan(1e-3);
    }

    @Test
    void theMergeArgumentFoldsTheAdapterIn() throws Exception {
        double[] worst = predictOneByOneAndBatched(PeftCriteria.builder(String.class, Classifications.class, adapter)
                .optArgument(FineTunedDirectory.MERGE, true).build(), expectedMerged);
        System.out.printf("adapter directory, merge=true: predict %.3g, batchPredict %.3g%n", worst[0], worst[1]);
        assertThat(worst[0]).isLessThanOrEqualTo(1e-6);
        assertThat(worst[1]).isLessThanOrEqualTo(1e-6);
    }

    @Test
    void aMergedDirectoryLoadsThroughAPlainCriteriaWithServingProperties() throws Exception {
        PeftCriteria.writeServingProperties(merged);
        Criteria<String, Classifications> plain = Criteria.builder().setTypes(String.class, Classifications.class)
                .optModelPath(merged).optTranslatorFactory(new PeftTranslatorFactory())
                .optArgument(FineTunedDirectory.MAX_LENGTH, CUTOFF).build();
        double[] worst = predictOneByOneAndBatched(plain, expectedMerged);
        System.out.printf("merged directory through a plain Criteria: predict %.3g, batchPredict %.3g%n", worst[0],
                worst[1]);
        assertThat(worst[0]).isLessThanOrEqualTo(1e-6);
        assertThat(worst[1]).isLessThanOrEqualTo(1e-6);
    }

    @Test
    void aDirectoryWithoutAModelIsRefusedWithWhatWasExpected() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Files.writeString(empty.resolve("notes.txt"), "nothing here");
        assertThatThrownBy(() -> PeftCriteria.builder(String.class, Classifications.class, empty).build().loadModel())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("holds no adapter (adapter_config.json) and no model (config.json)");
    }
}
