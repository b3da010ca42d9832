package org.peft4j.djl.serving;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.modality.nlp.translator.NamedEntity;
import ai.djl.inference.Predictor;
import ai.djl.ndarray.NDManager;
import ai.djl.repository.zoo.ZooModel;
import ai.djl.training.ParameterStore;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.Entity;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.TrainingTask;

/**
 * A TOKEN_CLS adapter directory served the DJL way ({@code Predictor<String, NamedEntity[]>}): one
 * text at a time and with {@code batchPredict}, the entities are those the library's own tagging
 * of the same words gives, with their character spans in the text.
 */
class TaggingServingTest {
    private static final List<String> TAGS = List.of("B-NUM", "I-NUM", "B-URL", "O");
    private static final List<String> TEXTS = List.of("Call 555 1234 now or visit www.example.com today",
            "  spaced   out\twords  and 42 numbers ", "ok");

    @Test
    void anAdapterDirectoryTagsAsTheLibraryDoes(@TempDir Path dir) throws Exception {
        Engine.getInstance().setRandomSeed(9);
        List<List<Entity>> expected = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager();
                InputStream json = PretrainedEncoder.ALL_MINILM_L6_V2.openTokenizer();
                WordTokenizer tokenizer = WordTokenizer.fromTokenizerJson(json, 32)) {
            TokenClassifier tagger = new TokenClassifier(PretrainedEncoder.ALL_MINILM_L6_V2.loadEncoder(manager), TAGS.size())
                    .initializeHead(manager);
            PeftModel peft = Peft.apply(tagger, LoraConfig.builder().optR(4).optLoraAlpha(8f)
                    .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query", "value").build());
            peft.saveAdapter(dir);
            Files.writeString(dir.resolve(FineTunedDirectory.RUN_RECORD), "{\"model_name_or_path\": \"all-MiniLM-L6-v2\","
                    + " \"cutoff_len\": 32, \"labels\": [\"B-NUM\", \"I-NUM\", \"B-URL\", \"O\"], \"merged_adapters\": []}");
            TaggingTask task = new TaggingTask(tokenizer, TAGS);
            List<TaggedSentence> sentences = new ArrayList<>();
            for (String text : TEXTS) {
                List<String> words = List.of(text.trim().split("\\s+"));
                sentences.add(new TaggedSentence(words, Collections.nCopies(words.size(), "O")));
            }
            TrainingTask.Batch batch = task.batch(manager, sentences);
            for (TaggingTask.Prediction p : task.predictions(sentences, batch,
                    tagger.forward(new ParameterStore(manager, false), batch.inputs(), false).singletonOrThrow())) {
                expected.add(p.entities());
            }
        }
        assertThat(expected.stream().mapToInt(List::size).sum()).as("a random tagger still finds entities").isPositive();
        try (ZooModel<String, NamedEntity[]> model = PeftCriteria.builder(String.class, NamedEntity[].class, dir).build()
                .loadModel();
                Predictor<String, NamedEntity[]> predictor = model.newPredictor()) {
            List<NamedEntity[]> batched = predictor.batchPredict(TEXTS);
            for (int i = 0; i < TEXTS.size(); i++) {
                NamedEntity[] single = predictor.predict(TEXTS.get(i));
                check(TEXTS.get(i), single, expected.get(i));
                check(TEXTS.get(i), batched.get(i), expected.get(i));
            }
        }
    }

    /** The same types and first words as the library's, each span the text of its words, scores probabilities. */
    private static void check(String text, NamedEntity[] served, List<Entity> expected) {
        List<String> words = List.of(text.trim().split("\\s+"));
        assertThat(served).hasSameSizeAs(expected);
        for (int i = 0; i < served.length; i++) {
            Entity e = expected.get(i);
            assertThat(served[i].getEntity()).isEqualTo(e.type());
            assertThat(served[i].getIndex()).isEqualTo(e.start());
            assertThat(served[i].getWord()).isEqualTo(text.substring(served[i].getStart(), served[i].getEnd()))
                    .startsWith(words.get(e.start())).endsWith(words.get(e.end()));
            assertThat(served[i].getScore()).isBetween(0f, 1f);
        }
    }
}
