package org.peft4j.djl.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;

/**
 * A FEATURE_EXTRACTION adapter directory served the DJL way ({@code Predictor<String, float[]>}):
 * one text at a time and with {@code batchPredict}, the embeddings are the library's own.
 */
class EmbeddingServingTest {
    private static final List<String> TEXTS = List.of("Your account statement is ready",
            "WIN a FREE cruise!!! Click now", "ok");

    @Test
    void anAdapterDirectoryEmbedsAsTheLibraryDoes(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(4);
        float[][] expected = new float[TEXTS.size()][];
        try (NDManager manager = NDManager.newBaseManager();
                BertTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(32)) {
            SentenceEmbedder embedder = new SentenceEmbedder(PretrainedEncoder.ALL_MINILM_L6_V2.loadEncoder(manager),
                    EmbeddingPooling.MEAN_NORMALIZED);
            PeftModel peft = Peft.apply(embedder, LoraConfig.builder().optR(4).optLoraAlpha(8f)
                    .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query", "value").build());
            peft.saveAdapter(dir);
            Files.writeString(dir.resolve(FineTunedDirectory.RUN_RECORD),
                    "{\"model_name_or_path\": \"all-MiniLM-L6-v2\", \"cutoff_len\": 32, \"merged_adapters\": []}");
            NDList inputs = tokenizer.encode(manager, TEXTS);
            float[] flat = embedder.forward(new ParameterStore(manager, false), inputs, false).singletonOrThrow()
                    .toFloatArray();
            int width = flat.length / TEXTS.size();
            for (int i = 0; i < TEXTS.size(); i++) {
                expected[i] = java.util.Arrays.copyOfRange(flat, i * width, (i + 1) * width);
            }
        }
        try (ZooModel<String, float[]> model = PeftCriteria.builder(String.class, float[].class, dir).build().loadModel();
                Predictor<String, float[]> predictor = model.newPredictor()) {
            List<float[]> batched = predictor.batchPredict(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                float[] single = predictor.predict(TEXTS.get(i));
                assertThat(single).hasSize(384);
                for (int j = 0; j < single.length; j++) {
                    assertThat(Math.abs(single[j] - expected[i][j])).isLessThan(1e-5f);
                    assertThat(Math.abs(batched.get(i)[j] - expected[i][j])).isLessThan(1e-5f);
                }
            }
        }
    }
}
