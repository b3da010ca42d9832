package org.peft4j.djl.tasks.tagging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.data.TaggedSentences;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TrainingTask;

/**
 * LoRA on the real all-MiniLM-L6-v2 learns to tag e-mail addresses, URLs, money amounts and numbers
 * in real mail text ({@link SpamEntities}) through the generic fine-tuning run.
 */
class TaggingTrainingTest {
    @Test
    void loraLearnsToTagEntitiesAndLeavesTheBaseBitIdentical(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(5);
        List<TaggedSentence> train = SpamEntities.read("train", 128, 16);
        List<TaggedSentence> dev = SpamEntities.read("dev", 40, 16);
        List<String> tags = TaggedSentences.tags(train);
        assertThat(tags).contains("B-EMAIL", "B-URL", "B-MONEY", "B-NUM", "O");
        try (Model model = Model.newInstance("tagger"); WordTokenizer tokenizer = TaggingTaskTest.miniLmTokenizer(48)) {
            BertModel bert = PretrainedEncoder.ALL_MINILM_L6_V2.load(model.getNDManager());
            TokenClassifier classifier = new TokenClassifier(bert, tags.size()).initializeHead(model.getNDManager());
            model.setBlock(classifier);
            Map<Parameter, float[]> base = new IdentityHashMap<>();
            for (Pair<String, Parameter> p : bert.getParameters()) {
                base.put(p.getValue(), p.getValue().getArray().toFloatArray());
            }
            PeftModel peft = Peft.apply(classifier, LoraConfig.builder().optR(8).optLoraAlpha(16)
                    .setTargetModulesRegex(".*encoder\\.layer\\.[2-5]\\.(attention\\.self\\.(query|value)|intermediate\\.dense)")
                    .build());
            assertThat(peft.adapter(peft.activeAdapter()).config().taskType()).isEqualTo(TaskType.TOKEN_CLS);
            assertThat(peft.adapter(peft.activeAdapter()).config().modulesToSave()).contains("classifier");
            FineTuning<TaggedSentence> run = new FineTuning<>(model, peft, new TaggingTask(tokenizer, tags));
            TaskEvaluation before = run.evaluate(dev, 32);

            List<FineTuning.EpochReport> reports = run.fit(train, dev, FineTuning.Settings.builder().setEpochs(3)
                    .setBatchSize(16).setLearningRate(1e-2f).optWarmupRatio(0.1f).optSeed(5).build(), r -> { });

            TaskEvaluation after = reports.get(reports.size() - 1).dev();
            System.out.printf("tagging: dev loss %.4f -> %.4f, entity F1 %.4f -> %.4f (P %.4f R %.4f), accuracy %.4f;"
                    + " train loss by epoch %s%n", before.loss(), after.loss(), before.metric("f1"), after.metric("f1"),
                    after.metric("precision"), after.metric("recall"), after.metric("accuracy"),
                    reports.stream().map(r -> String.format("%.4f", r.meanLoss())).toList());
            assertThat(after.loss()).isLessThan(before.loss() / 3);
            assertThat(reports.get(reports.size() - 1).meanLoss()).isLessThan(reports.get(0).meanLoss());
            assertThat(after.metric("f1")).isGreaterThan(0.7).isGreaterThan(before.metric("f1") + 0.5);
            // the adapter is saved as PEFT saves a TOKEN_CLS adapter, and loads back with the same logits
            peft.saveAdapter(dir);
            AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
            assertThat(saved.config().taskType()).isEqualTo(TaskType.TOKEN_CLS);
            assertThat(saved.config().modulesToSave()).containsExactly("classifier");
            assertThat(Files.readString(dir.resolve(AdapterCheckpoint.CONFIG_FILE))).contains("TOKEN_CLS");
            assertThat(saved.tensors()).containsKeys("base_model.model.classifier.weight", "base_model.model.classifier.bias",
                    "base_model.model.bert.encoder.layer.5.intermediate.dense.lora_A.weight");
            assertThat(saved.tensors().keySet()).noneMatch(k -> k.contains("layer.1."));
            try (Model reloaded = Model.newInstance("reloaded"); NDManager scope = NDManager.newBaseManager()) {
                TokenClassifier fresh = new TokenClassifier(PretrainedEncoder.ALL_MINILM_L6_V2.load(reloaded.getNDManager()),
                        tags.size()).initializeHead(reloaded.getNDManager());
                reloaded.setBlock(fresh);
                Peft.load(fresh, dir);
                TrainingTask.Batch batch = run.task().batch(scope, dev.subList(0, 4));
                float[] expected = classifier.forward(new ParameterStore(scope, false), batch.inputs(), false)
                        .singletonOrThrow().toFloatArray();
                float[] actual = fresh.forward(new ParameterStore(scope, false), batch.inputs(), false)
                        .singletonOrThrow().toFloatArray();
                assertThat(actual).containsExactly(expected, within(1e-5f));
            }
            for (Map.Entry<Parameter, float[]> e : base.entrySet()) {
                // Arrays.equals compares floats by their bits
                assertThat(Arrays.equals(e.getKey().getArray().toFloatArray(), e.getValue())).as(e.getKey().getName()).isTrue();
            }
        }
    }
}
