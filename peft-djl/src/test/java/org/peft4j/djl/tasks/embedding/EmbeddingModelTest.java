package org.peft4j.djl.tasks.embedding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.data.TextPair;
import org.peft4j.api.data.TextPairs;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TaskEvaluation;

/**
 * A {@link SentenceEmbedder} on a tiny random encoder: its module paths and adapters are the bare
 * encoder's, as Python's {@code PeftModelForFeatureExtraction} makes them; its embeddings are the
 * pooled, normalised hidden states; and LoRA trains on spam (subject, body) pairs through
 * {@link FineTuning} with {@link PairRankingTask}.
 */
class EmbeddingModelTest {
    @TempDir
    Path dir;

    private static BertModel tinyEncoder(Model model) {
        BertModel encoder = new BertModel(new BertConfig(30522, 16, 1, 2, 32, 128, 2, 1e-12f, 0f, 0f));
        encoder.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
        return encoder;
    }

    private static BertTokenizer tokenizer() throws IOException {
        try (InputStream json = EmbeddingModelTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            return BertTokenizer.fromTokenizerJson(json, 32);
        }
    }

    @Test
    void modulePathsAndAdapterFilesAreTheBareEncodersAndEmbeddingsArePooledAndNormalised() throws Exception {
        try (Model model = Model.newInstance("embedder"); BertTokenizer tokenizer = tokenizer()) {
            BertModel encoder = tinyEncoder(model);
            SentenceEmbedder embedder = new SentenceEmbedder(encoder, EmbeddingPooling.CLS_NORMALIZED);
            model.setBlock(embedder);
            assertThat(ModuleTree.modules(embedder).keySet()).containsExactlyElementsOf(ModuleTree.modules(encoder).keySet())
                    .contains("encoder.layer.0.attention.self.query");

            NDList inputs = tokenizer.encode(model.getNDManager(), List.of("Cheap meds", "Meeting moved to 3pm tomorrow"));
            ParameterStore ps = new ParameterStore(model.getNDManager(), false);
            float[] hidden = encoder.encode(ps, inputs.get(0), inputs.get(1), inputs.get(2), false).toFloatArray();
            long length = inputs.get(0).getShape().get(1);
            NDList twoGroups = new NDList(inputs);
            twoGroups.addAll(inputs);
            NDList out = embedder.forward(ps, twoGroups, false);
            assertThat(out).hasSize(2);
            float[] embeddings = out.get(0).toFloatArray();
            assertThat(out.get(1).toFloatArray()).containsExactly(embeddings);
            for (int b = 0; b < 2; b++) {
                // the [CLS] state of sequence b, divided by its length
                double norm = 0;
                for (int h = 0; h < 16; h++) {
                    double v = hidden[(int) (b * length * 16) + h];
                    norm += v * v;
                }
                for (int h = 0; h < 16; h++) {
                    assertThat((double) embeddings[b * 16 + h])
                            .isCloseTo(hidden[(int) (b * length * 16) + h] / Math.sqrt(norm), within(1e-5));
                }
            }
            assertThatThrownBy(() -> embedder.forward(ps, new NDList(inputs.get(0)), false))
                    .hasMessageContaining("groups of (input_ids, attention_mask, token_type_ids), got 1 arrays");

            PeftModel peft = Peft.apply(embedder, LoraConfig.builder().optR(4).setTargetModules("query", "value").build());
            peft.saveAdapter(dir);
            AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
            assertThat(saved.config().taskType()).isEqualTo(TaskType.FEATURE_EXTRACTION);
            assertThat(saved.tensors().keySet()).contains("base_model.model.encoder.layer.0.attention.self.query.lora_A.weight",
                    "base_model.model.encoder.layer.0.attention.self.value.lora_B.weight").hasSize(4);
            assertThat(saved.metadata()).containsEntry(SentenceEmbedder.POOLING_METADATA, "cls+normalize");
        }
        try (Model model = Model.newInstance("other")) {
            SentenceEmbedder meanPooled = new SentenceEmbedder(tinyEncoder(model), EmbeddingPooling.MEAN_NORMALIZED);
            assertThatThrownBy(() -> Peft.load(meanPooled, dir)).hasMessageContaining("trained with cls+normalize pooling");
        }
    }

    @Test
    void loraTrainsOnSubjectBodyPairsThroughFineTuning() throws Exception {
        List<TextPair> pairs = new ArrayList<>(TextPairs.splitEach(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")),
                " | "));
        Collections.shuffle(pairs, new Random(1));
        List<TextPair> train = pairs.subList(0, 48);
        Engine.getInstance().setRandomSeed(7);
        try (Model model = Model.newInstance("embedder"); BertTokenizer tokenizer = tokenizer()) {
            SentenceEmbedder embedder = new SentenceEmbedder(tinyEncoder(model), EmbeddingPooling.MEAN_NORMALIZED);
            model.setBlock(embedder);
            PeftModel peft = Peft.apply(embedder, LoraConfig.builder().optR(8).optLoraAlpha(16)
                    .setTargetAllLinear().build());
            FineTuning<TextPair> run = new FineTuning<>(model, peft, new PairRankingTask(tokenizer));
            TaskEvaluation before = run.evaluate(train, 16);
            List<FineTuning.EpochReport> reports = run.fit(train, train, FineTuning.Settings.builder().setEpochs(6)
                    .setBatchSize(16).setLearningRate(1e-2f).optSeed(3).build(), r -> { });
            TaskEvaluation after = reports.get(reports.size() - 1).dev();
            System.out.printf("tiny encoder, 48 pairs: recall@10 %.3f -> %.3f, loss %.3f -> %.3f%n",
                    before.metric("recall@10"), after.metric("recall@10"), before.loss(), after.loss());
            assertThat(after.selectionMetric()).isEqualTo("recall@10");
            assertThat(after.metrics()).containsOnlyKeys("recall@1", "recall@10", "mrr@10");
            assertThat(after.loss()).isLessThan(before.loss());
            assertThat(after.metric("mrr@10")).isGreaterThan(before.metric("mrr@10"));
        }
    }
}
