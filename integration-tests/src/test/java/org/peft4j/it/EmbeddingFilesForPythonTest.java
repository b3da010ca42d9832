package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertLoader;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.MultipleNegativesRankingLoss;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;

/**
 * Sentence-embedding adapters ({@code task_type: FEATURE_EXTRACTION}) peft4j trains on the golden
 * tiny BERT, for Python to load: LoRA under CLS and under mean pooling, each trained a few steps
 * with {@link MultipleNegativesRankingLoss}, with peft4j's embeddings of the golden inputs. The
 * layout is asserted here (the bare encoder's keys, no head); with {@code -Dpeft4j.python=PYTHON},
 * {@code src/test/python/check_embedding_files.py} loads each as Python's
 * {@code PeftModelForFeatureExtraction} on {@code AutoModel} and must get the same embeddings.
 */
class EmbeddingFilesForPythonTest {
    private static final Path OUT = Path.of("target", "java-written-embeddings");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @Test
    void embeddingAdaptersLoadInPythonAsFeatureExtractionWithTheSameEmbeddings() throws Exception {
        Engine.getInstance().setRandomSeed(7);
        Files.createDirectories(OUT);
        Map<String, EmbeddingPooling> cases = new LinkedHashMap<>();
        cases.put("lora-cls-normalized", EmbeddingPooling.CLS_NORMALIZED);
        cases.put("lora-mean", EmbeddingPooling.MEAN);
        ObjectNode expected = JSON.createObjectNode();
        for (Map.Entry<String, EmbeddingPooling> c : cases.entrySet()) {
            try (Model model = Model.newInstance(c.getKey())) {
                SentenceEmbedder embedder = new SentenceEmbedder(BertLoader.fromHuggingFace(GoldenFiles.BASE,
                        model.getNDManager()), c.getValue());
                model.setBlock(embedder);
                PeftModel peft = Peft.apply(embedder, LoraConfig.builder().optR(4).optLoraAlpha(8)
                        .setTargetModules("query", "value").optBaseModelNameOrPath("tiny-bert").build());
                NDList inputs = GoldenFiles.inputs(model.getNDManager());
                train(model, peft, inputs);
                Path dir = OUT.resolve(c.getKey());
                peft.saveAdapter(dir);
                AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
                assertThat(saved.config().taskType()).isEqualTo(TaskType.FEATURE_EXTRACTION);
                assertThat(saved.config().modulesToSave()).isNullOrEmpty();
                assertThat(saved.tensors().keySet()).allMatch(k -> k.startsWith("base_model.model.encoder.layer."))
                        .contains("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight");
                float[] loraB = saved.tensors().get("base_model.model.encoder.layer.0.attention.self.query.lora_B.weight")
                        .toFloatArray();
                assertThat(Math.abs(loraB[0]) + Math.abs(loraB[loraB.length - 1])).as("trained B").isGreaterThan(0f);
                float[] embeddings = embedder.forward(new ParameterStore(model.getNDManager(), false), inputs, false)
                        .singletonOrThrow().toFloatArray();
                expected.set(c.getKey(), JSON.valueToTree(embeddings));
            }
        }
        Files.writeString(OUT.resolve("expected_embeddings.json"), JSON.writeValueAsString(expected), StandardCharsets.UTF_8);
        String python = System.getProperty("peft4j.python", "");
        if (!python.isBlank()) {
            Process p = new ProcessBuilder(python, Path.of("src", "test", "python", "check_embedding_files.py").toString(),
                    GoldenFiles.DIR.toString(), OUT.toString()).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
            System.out.print(output);
            assertThat(p.exitValue()).as("check_embedding_files.py:%n%s", output).isZero();
            assertThat(output).contains("all " + expected.size() + " embedding adapters load in Python with the same embeddings");
        }
    }

    /** A few AdamW steps of the in-batch loss, each golden text its own positive, so that every LoRA weight moves. */
    private static void train(Model model, PeftModel peft, NDList inputs) {
        DefaultTrainingConfig config = new DefaultTrainingConfig(new MultipleNegativesRankingLoss())
                .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(0.05f)).build());
        NDList pairs = new NDList(inputs);
        pairs.addAll(inputs);
        try (Trainer trainer = peft.newTrainer(model, config)) {
            for (int step = 0; step < 5; step++) {
                try (NDManager batch = model.getNDManager().newSubManager();
                        GradientCollector collector = trainer.newGradientCollector()) {
                    collector.backward(trainer.getLoss().evaluate(new NDList(), trainer.forward(pairs)));
                }
                trainer.step();
            }
        }
    }
}
