package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertLoader;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TrainingTask;

/**
 * Token classification against Python (src/test/python/make_token_cls_golden.py, transformers 5.18 and
 * PEFT 0.21): pre-split words tokenize to the same ids, and labels align as transformers' run_ner.py
 * aligns them (first sub-token of each word, -100 elsewhere); a LoRA adapter PEFT saved for a
 * BertForTokenClassification (task_type TOKEN_CLS, its classifier in modules_to_save) loads onto a
 * {@link TokenClassifier} and gives Python's logits on every token.
 */
class TokenClsGoldenTest {
    private static final Path DIR = Path.of("src", "test", "resources", "golden", "bert-token-cls");

    @Test
    void wordsAlignAndAPeftLoraAdapterGivesPythonsLogits() throws IOException {
        JsonNode golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        List<String> tags = new ArrayList<>();
        golden.get("tags").forEach(t -> tags.add(t.asText()));
        List<TaggedSentence> sentences = new ArrayList<>();
        for (int i = 0; i < golden.at("/inputs/words").size(); i++) {
            List<String> words = new ArrayList<>();
            List<String> wordTags = new ArrayList<>();
            golden.at("/inputs/words/" + i).forEach(w -> words.add(w.asText()));
            golden.at("/inputs/tags/" + i).forEach(t -> wordTags.add(t.asText()));
            sentences.add(new TaggedSentence(words, wordTags));
        }
        try (NDManager manager = NDManager.newBaseManager();
                WordTokenizer tokenizer = WordTokenizer.fromTokenizerJson(
                        DIR.resolve("tiny-bert-tagger").resolve("tokenizer.json"), 32)) {
            TrainingTask.Batch batch = new TaggingTask(tokenizer, tags).batch(manager, sentences);
            String[] names = {"input_ids", "attention_mask", "token_type_ids"};
            for (int i = 0; i < names.length; i++) {
                assertThat(batch.inputs().get(i).toLongArray()).as(names[i]).containsExactly(flat(golden.at("/inputs/" + names[i])));
            }
            assertThat(batch.targets().singletonOrThrow().toLongArray()).as("labels").containsExactly(flat(golden.at("/inputs/labels")));
            assertThat(tokenizer.encode(sentences.get(0).tokens()).wordIds()).containsExactly(flat(golden.at("/inputs/word_ids/0")));

            TokenClassifier classifier = new TokenClassifier(BertLoader.fromHuggingFace(DIR.resolve("tiny-bert-tagger"), manager),
                    tags.size()).initializeHead(manager);
            PeftModel peft = Peft.load(classifier, DIR.resolve("adapters").resolve("lora"));
            assertThat(peft.adapter(peft.activeAdapter()).config().taskType()).isEqualTo(TaskType.TOKEN_CLS);
            NDList out = classifier.forward(new ParameterStore(manager, false), batch.inputs(), false);
            float[] ours = out.singletonOrThrow().toFloatArray();
            List<Double> theirs = new ArrayList<>();
            golden.at("/logits/lora").forEach(row -> row.forEach(token -> token.forEach(v -> theirs.add(v.asDouble()))));
            assertThat(ours).hasSize(theirs.size());
            double diff = 0;
            for (int i = 0; i < ours.length; i++) {
                diff = Math.max(diff, Math.abs(ours[i] - theirs.get(i)));
            }
            System.out.printf("token-cls lora: max |logit difference| %.2e%n", diff);
            assertThat(diff).isLessThan(1e-5);
        }
    }

    /**
     * A LoRA adapter trained a few steps by peft4j on the golden sentences, written with Java's logits
     * to target/java-written-token-cls; with {@code -Dpeft4j.python=PYTHON},
     * src/test/python/check_java_token_cls.py loads it as a PeftModelForTokenClassification and must
     * get the same logits.
     */
    @Test
    void aTokenClsAdapterWrittenByJavaLoadsInPython() throws Exception {
        JsonNode golden = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
        List<String> tags = new ArrayList<>();
        golden.get("tags").forEach(t -> tags.add(t.asText()));
        List<TaggedSentence> sentences = new ArrayList<>();
        for (int i = 0; i < golden.at("/inputs/words").size(); i++) {
            List<String> words = new ArrayList<>();
            List<String> wordTags = new ArrayList<>();
            golden.at("/inputs/words/" + i).forEach(w -> words.add(w.asText()));
            golden.at("/inputs/tags/" + i).forEach(t -> wordTags.add(t.asText()));
            sentences.add(new TaggedSentence(words, wordTags));
        }
        Path out = Path.of("target", "java-written-token-cls");
        try (Model model = Model.newInstance("tagger");
                WordTokenizer tokenizer = WordTokenizer.fromTokenizerJson(
                        DIR.resolve("tiny-bert-tagger").resolve("tokenizer.json"), 32)) {
            Engine.getInstance().setRandomSeed(1);
            TokenClassifier classifier = new TokenClassifier(BertLoader.fromHuggingFace(DIR.resolve("tiny-bert-tagger"),
                    model.getNDManager()), tags.size()).initializeHead(model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.apply(classifier, LoraConfig.builder().optR(4).optLoraAlpha(8)
                    .setTargetModules("query", "value").build());
            TaggingTask task = new TaggingTask(tokenizer, tags);
            new FineTuning<>(model, peft, task).fit(sentences, List.of(), FineTuning.Settings.builder().setEpochs(5)
                    .setBatchSize(2).setLearningRate(5e-2f).build(), r -> { });
            peft.saveAdapter(out.resolve("adapters").resolve("lora"));
            try (NDManager manager = NDManager.newBaseManager()) {
                TrainingTask.Batch batch = task.batch(manager, sentences);
                NDArray logits = classifier.forward(new ParameterStore(manager, false), batch.inputs(), false)
                        .singletonOrThrow();
                float[] flat = logits.toFloatArray();
                long[] shape = logits.getShape().getShape();
                double[][][] nested = new double[(int) shape[0]][(int) shape[1]][(int) shape[2]];
                for (int i = 0; i < flat.length; i++) {
                    nested[(int) (i / (shape[1] * shape[2]))][(int) (i / shape[2] % shape[1])][(int) (i % shape[2])] = flat[i];
                }
                new ObjectMapper().writeValue(out.resolve("logits.json").toFile(), nested);
            }
        }
        JsonNode config = new ObjectMapper().readTree(out.resolve("adapters").resolve("lora").resolve("adapter_config.json").toFile());
        assertThat(config.get("task_type").asText()).isEqualTo("TOKEN_CLS");
        assertThat(AdapterCheckpoint.load(out.resolve("adapters").resolve("lora")).tensors())
                .containsKeys("base_model.model.classifier.weight", "base_model.model.bert.encoder.layer.1.attention.self.query.lora_B.weight");
        String python = System.getProperty("peft4j.python", "");
        if (!python.isBlank()) {
            Process p = new ProcessBuilder(python, Path.of("src", "test", "python", "check_java_token_cls.py").toString(),
                    DIR.toString(), out.toString()).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(5, TimeUnit.MINUTES)).isTrue();
            assertThat(p.exitValue()).as("check_java_token_cls.py:%n%s", output).isZero();
            System.out.print(output);
        }
    }

    private static long[] flat(JsonNode rows) {
        List<Long> out = new ArrayList<>();
        if (rows.get(0).isArray()) {
            rows.forEach(row -> row.forEach(v -> out.add(v.asLong())));
        } else {
            rows.forEach(v -> out.add(v.asLong()));
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
