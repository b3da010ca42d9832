package org.peft4j.tribuo.tagging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.oracle.labs.mlrg.olcut.config.ConfigurationManager;
import com.oracle.labs.mlrg.olcut.provenance.ProvenanceUtil;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.tribuo.io.DisallowedClassException;
import org.tribuo.Example;
import org.tribuo.Feature;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.impl.ListExample;
import org.tribuo.protos.core.SequenceModelProto;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import org.tribuo.provenance.TrainerProvenance;
import org.tribuo.sequence.MutableSequenceDataset;
import org.tribuo.sequence.SequenceExample;
import org.tribuo.sequence.SequenceModel;

/**
 * {@link TaggingPeftTrainer} and {@link TaggingPeftModel} on a tiny random encoder in Hugging Face's
 * layout (hidden 16, one layer, MiniLM's vocabulary and tokenizer), trained once for the class: the
 * model's per-word probabilities are peft-djl's {@link TokenClassifier} forward with the saved
 * adapter on a freshly loaded base, sentence by sentence (so batching, padding and the windows of
 * long sentences change nothing), for LoRA and for prompt, prefix and IA3 adapters too; the LoRA
 * adapter is a {@code TOKEN_CLS} adapter holding only LoRA and
 * head tensors; the provenance records and rebuilds the trainer; bad input is refused with a
 * message saying what and where.
 */
class TaggingPeftTrainerTest {
    private static final int MAX_LENGTH = 12;
    private static final LoraConfig LORA = LoraConfig.builder().optR(2).optLoraAlpha(4)
            .setTargetModules("query", "value").build();

    @TempDir
    static Path encoderDir;
    private static MutableSequenceDataset<Label> train;
    private static TaggingPeftTrainer trainer;
    private static TaggingPeftModel model;
    private static byte[] encoderWeightsBefore;

    @BeforeAll
    static void trainOnce() throws Exception {
        Engine.getInstance().setRandomSeed(11); // the tiny encoder's random weights, the same in every run
        try (Model tiny = Model.newInstance("tiny")) {
            BertModel bert = new BertModel(new BertConfig(30522, 16, 1, 2, 32, 64, 2, 1e-12f, 0f, 0f));
            bert.initialize(tiny.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
            ClassifierDirectory.save(new BertSequenceClassifier(bert, 2).initializeHead(tiny.getNDManager()),
                    List.of("a", "b"), encoderDir, Map.of());
        }
        try (InputStream tokenizer = TaggingPeftTrainerTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            Files.copy(tokenizer, encoderDir.resolve("tokenizer.json"));
        }
        encoderWeightsBefore = Files.readAllBytes(encoderDir.resolve(ClassifierDirectory.WEIGHTS));
        train = dataset("tiny tagged sentences", List.of(
                sentence("call 555 now", "O B-NUM O"), sentence("meet at 10 with Ann", "O O B-NUM O B-PER"),
                sentence("Ann paid 20 dollars", "B-PER O B-NUM O"), sentence("Bob Smith wrote 3 notes", "B-PER I-PER O B-NUM O"),
                sentence("see you Bob", "O O B-PER"), sentence("7 cats", "B-NUM O"),
                sentence("Ann and Bob Smith", "B-PER O B-PER I-PER"), sentence("it costs 99", "O O B-NUM")));
        trainer = new TaggingPeftTrainer(PretrainedEncoder.huggingFace(encoderDir), LORA).maxLength(MAX_LENGTH)
                .schedule(20, 4, 0.05f).seed(3);
        model = trainer.train(train);
    }

    @AfterAll
    static void close() {
        model.close();
    }

    private static TaggedSentence sentence(String words, String tags) {
        return new TaggedSentence(List.of(words.split(" ")), List.of(tags.split(" ")));
    }

    private static MutableSequenceDataset<Label> dataset(String description, List<TaggedSentence> sentences) {
        return TaggedSequences.dataset(sentences, new SimpleDataSourceProvenance(description, new LabelFactory()));
    }

    /**
     * peft-djl's forward on one sentence alone: a fresh base, the adapter loaded from its saved
     * files, the softmax on each word's first token; [word][tag] in the model's tag order.
     */
    private static float[][] libraryProbabilities(TokenClassifier classifier, WordTokenizer tokenizer,
            List<String> words) {
        WordTokenizer.WordEncoding e = tokenizer.encode(words);
        try (NDManager scope = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, e.length());
            long[] mask = new long[e.length()];
            Arrays.fill(mask, 1);
            NDList inputs = new NDList(scope.create(e.ids(), shape), scope.create(mask, shape),
                    scope.create(e.typeIds(), shape));
            NDArray probabilities = classifier.forward(new ParameterStore(scope, false), inputs, false)
                    .singletonOrThrow().softmax(-1).get(0);
            float[][] out = new float[words.size()][];
            for (int j = 0; j < e.length(); j++) {
                if (e.startsWord(j)) {
                    out[(int) e.wordIds()[j]] = probabilities.get(j).toFloatArray();
                }
            }
            return out;
        }
    }

    @Test
    void predictionsAreTheLibrarysTokenClassifierWithTheSavedAdapter(@TempDir Path dir) throws Exception {
        List<String> tags = model.tags();
        assertThat(tags).containsExactlyInAnyOrder("B-NUM", "B-PER", "I-PER", "O");
        // sentences of the training data, new words split into several sub-tokens, and one of 20 words
        // that is longer than maxLength (12 tokens) and so is tagged in windows; its tenth word is the
        // last of the first window and loses all but its first sub-token there
        List<List<String>> probes = List.of(List.of("call", "555", "now"),
                List.of("unbelievably", "Zanzibar", "paid", "1234567"),
                List.of(("one two three four five six seven eight nine unbelievably eleven twelve thirteen fourteen fifteen"
                        + " sixteen seventeen eighteen nineteen twenty").split(" ")));
        List<SequenceExample<Label>> examples = new ArrayList<>();
        probes.forEach(words -> examples.add(TaggedSequences.unlabelled(words)));
        List<List<Prediction<Label>>> predicted = model.predict(examples);

        model.saveAdapter(dir);
        AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
        assertThat(saved.config().taskType()).isEqualTo(TaskType.TOKEN_CLS);
        assertThat(saved.config().modulesToSave()).containsExactly("classifier");
        // only LoRA's matrices and the head are trained and saved: no base weight
        assertThat(saved.tensors().keySet()).allMatch(k -> k.endsWith("lora_A.weight") || k.endsWith("lora_B.weight")
                || k.startsWith("base_model.model.classifier."));
        assertThat(saved.tensors()).containsKeys("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight",
                "base_model.model.classifier.weight");
        // training read the encoder's files and never wrote them
        assertThat(Files.readAllBytes(encoderDir.resolve(ClassifierDirectory.WEIGHTS))).isEqualTo(encoderWeightsBefore);

        try (Model reference = Model.newInstance("reference");
                WordTokenizer tokenizer = WordTokenizer.fromTokenizerJson(encoderDir.resolve("tokenizer.json"),
                        MAX_LENGTH)) {
            TokenClassifier classifier = new TokenClassifier(
                    PretrainedEncoder.huggingFace(encoderDir).loadEncoder(reference.getNDManager()), tags.size())
                    .initializeHead(reference.getNDManager());
            reference.setBlock(classifier);
            Peft.load(classifier, dir);
            for (int s = 0; s < 2; s++) {
                assertSameProbabilities(predicted.get(s), libraryProbabilities(classifier, tokenizer, probes.get(s)),
                        tags);
            }
            // the long sentence: the windows found from each word's token count, each encoded alone
            List<String> longSentence = probes.get(2);
            int start = 0;
            int windowCount = 0;
            while (start < longSentence.size()) {
                int position = 1; // after [CLS]; a word is tagged while its first token fits before [SEP]
                int end = start;
                while (end < longSentence.size() && position <= MAX_LENGTH - 2) {
                    position += tokenizer.encode(List.of(longSentence.get(end))).length() - 2;
                    end++;
                }
                float[][] expected = libraryProbabilities(classifier, tokenizer, longSentence.subList(start, end));
                assertSameProbabilities(predicted.get(2).subList(start, end), expected, tags);
                start = end;
                windowCount++;
            }
            assertThat(windowCount).isGreaterThan(1);
            assertThat(predicted.get(2)).hasSize(20);
        }
    }

    @Test
    void promptPrefixAndIa3AdaptersTagAsTheLibraryDoes(@TempDir Path dir) throws Exception {
        List<String> words = List.of("Bob", "Smith", "paid", "1234567");
        for (PeftConfig config : List.of(PromptTuningConfig.builder().setNumVirtualTokens(3).build(),
                PrefixTuningConfig.builder().setNumVirtualTokens(3).optPrefixProjection(true).build(),
                Ia3Config.builder().setDefaultTargetModules("bert").build())) {
            TaggingPeftTrainer other = new TaggingPeftTrainer(PretrainedEncoder.huggingFace(encoderDir), config)
                    .maxLength(MAX_LENGTH).schedule(2, 4, 0.05f).seed(3);
            Path adapterDir = dir.resolve(config.peftType().name());
            try (TaggingPeftModel tagger = other.train(train);
                    Model reference = Model.newInstance("reference");
                    WordTokenizer tokenizer = WordTokenizer.fromTokenizerJson(encoderDir.resolve("tokenizer.json"),
                            MAX_LENGTH)) {
                tagger.saveAdapter(adapterDir);
                assertThat(AdapterCheckpoint.load(adapterDir).config().taskType()).isEqualTo(TaskType.TOKEN_CLS);
                TokenClassifier classifier = new TokenClassifier(
                        PretrainedEncoder.huggingFace(encoderDir).loadEncoder(reference.getNDManager()),
                        tagger.tags().size()).initializeHead(reference.getNDManager());
                reference.setBlock(classifier);
                Peft.load(classifier, adapterDir);
                assertSameProbabilities(tagger.predict(TaggedSequences.unlabelled(words)),
                        libraryProbabilities(classifier, tokenizer, words), tagger.tags());
            }
        }
    }

    private static void assertSameProbabilities(List<Prediction<Label>> predictions, float[][] expected,
            List<String> tags) {
        assertThat(predictions).hasSize(expected.length);
        for (int w = 0; w < expected.length; w++) {
            Map<String, Label> scores = predictions.get(w).getOutputScores();
            int best = 0;
            for (int t = 0; t < tags.size(); t++) {
                assertThat(scores.get(tags.get(t)).getScore()).as("word %d, tag %s", w, tags.get(t))
                        .isCloseTo(expected[w][t], within(1e-5));
                best = expected[w][t] > expected[w][best] ? t : best;
            }
            assertThat(predictions.get(w).getOutput().getLabel()).isEqualTo(tags.get(best));
            assertThat(predictions.get(w).hasProbabilities()).isTrue();
        }
    }

    @Test
    void theTrainingDataIsLearnedAndTheLossFalls() {
        float[] losses = model.epochLosses();
        assertThat(losses).hasSize(20);
        assertThat(losses[19]).isLessThan(losses[0] / 2);
        List<List<Prediction<Label>>> predicted = model.predict(train);
        double right = 0;
        double words = 0;
        for (int s = 0; s < train.size(); s++) {
            for (int w = 0; w < train.getExample(s).size(); w++) {
                right += predicted.get(s).get(w).getOutput().getLabel()
                        .equals(train.getExample(s).get(w).getOutput().getLabel()) ? 1 : 0;
                words++;
            }
        }
        System.out.printf("tiny tagger: epoch losses %s, training word accuracy %.3f%n", Arrays.toString(losses),
                right / words);
        // always answering "O" scores 15 / 29 = 0.517 here; a random 16-wide encoder learns only so much in 40 steps
        assertThat(right / words).isGreaterThan(0.7);
    }

    @Test
    void theProvenanceRecordsAndRebuildsTheTrainer() throws Exception {
        var configured = model.getProvenance().getTrainerProvenance().getConfiguredParameters();
        assertThat(configured.get("adapterConfig").toString()).contains("TOKEN_CLS", "\"r\" : 2", "classifier");
        assertThat(configured.get("maxLength").toString()).isEqualTo(Integer.toString(MAX_LENGTH));
        assertThat(configured.get("epochs").toString()).isEqualTo("20");
        assertThat(configured.get("learningRate").toString()).isEqualTo("0.05");
        assertThat(configured.get("wordPrefix").toString()).isEqualTo(TaggedSequences.WORD_PREFIX);
        assertThat(configured.get("encoderLocation").toString()).isEqualTo(encoderDir.toAbsolutePath().toString());
        assertThat(model.getProvenance().getDatasetProvenance()).isEqualTo(train.getProvenance());
        assertThat(model.getProvenance().getTrainerProvenance().getInstanceValues().get(TrainerProvenance.IS_SEQUENCE)
                .toString()).isEqualTo("true");

        // the configuration extracted from the provenance rebuilds the trainer, which trains the same adapter
        ConfigurationManager cm = new ConfigurationManager();
        cm.addConfiguration(ProvenanceUtil.extractConfiguration(model.getProvenance()));
        TaggingPeftTrainer rebuilt = (TaggingPeftTrainer) cm.lookup(cm.listAll(TaggingPeftTrainer.class).get(0));
        assertThat(rebuilt.config()).isEqualTo(trainer.config());
        try (TaggingPeftModel again = rebuilt.train(train)) {
            assertThat(again.adapter().weightBytes()).isEqualTo(model.adapter().weightBytes());
        }
    }

    @Test
    void anOlcutConfigFileBuildsTheTrainerThatCodeBuilds(@TempDir Path dir) throws Exception {
        Path xml = dir.resolve("tagger.xml");
        Files.writeString(xml, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config>\n"
                + "<component name=\"tagger\" type=\"org.peft4j.tribuo.tagging.TaggingPeftTrainer\">\n"
                + "  <property name=\"encoderKind\" value=\"HUGGING_FACE\"/>\n"
                + "  <property name=\"encoderLocation\" value=\"" + encoderDir + "\"/>\n"
                + "  <property name=\"encoderTokenizer\" value=\"" + encoderDir.resolve("tokenizer.json") + "\"/>\n"
                + "  <property name=\"adapterConfig\" value='{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4,"
                + " \"target_modules\": [\"query\", \"value\"]}'/>\n"
                + "  <property name=\"maxLength\" value=\"12\"/>\n"
                + "  <property name=\"epochs\" value=\"20\"/>\n"
                + "  <property name=\"batchSize\" value=\"4\"/>\n"
                + "  <property name=\"learningRate\" value=\"0.05\"/>\n"
                + "  <property name=\"seed\" value=\"3\"/>\n"
                + "</component>\n</config>\n", StandardCharsets.UTF_8);
        TaggingPeftTrainer configured = (TaggingPeftTrainer) new ConfigurationManager(xml.toString()).lookup("tagger");
        // the same settings (the invocation counts differ: the class's trainer has trained)
        assertThat(configured.getProvenance().getConfiguredParameters())
                .isEqualTo(trainer.getProvenance().getConfiguredParameters());
        assertThat(configured.config().taskType()).isEqualTo(TaskType.TOKEN_CLS);

        Files.writeString(xml, Files.readString(xml).replace("\"r\": 2", "\"r\": 2, \"task_type\": \"SEQ_CLS\""));
        ConfigurationManager bad = new ConfigurationManager(xml.toString());
        assertThatThrownBy(() -> bad.lookup("tagger")).hasStackTraceContaining("adapterConfig")
                .hasStackTraceContaining("task_type SEQ_CLS");
    }

    @Test
    void javaAndProtobufSerializationKeepThePredictions() throws Exception {
        SequenceExample<Label> probe = TaggedSequences.unlabelled(List.of("Ann", "paid", "42"));
        List<Prediction<Label>> expected = model.predict(probe);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(model);
        }
        try (TaggingPeftModel fromJava = (TaggingPeftModel) new ObjectInputStream(
                new ByteArrayInputStream(bytes.toByteArray())).readObject();
                TaggingPeftModel fromProto = (TaggingPeftModel) SequenceModel.deserialize(
                        SequenceModelProto.parseFrom(model.serialize().toByteArray()))) {
            for (TaggingPeftModel copy : List.of(fromJava, fromProto)) {
                List<Prediction<Label>> actual = copy.predict(probe);
                for (int w = 0; w < expected.size(); w++) {
                    assertThat(actual.get(w).getOutputScores()).isEqualTo(expected.get(w).getOutputScores());
                }
                assertThat(copy.getProvenance()).isEqualTo(model.getProvenance());
                assertThat(copy.epochLosses()).containsExactly(model.epochLosses());
                assertThat(copy.adapter().weightBytes()).isEqualTo(model.adapter().weightBytes());
            }
        }
        // a hostile class name in the metadata is refused before Tribuo loads it
        String crafted = new String(model.serialize().toByteArray(), StandardCharsets.ISO_8859_1)
                .replace("org.tribuo.ImmutableFeatureMap", "org.peft4j.tribuo.EvilFeatures");
        SequenceModelProto proto = SequenceModelProto.parseFrom(crafted.getBytes(StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> SequenceModel.deserialize(proto)).hasRootCauseInstanceOf(DisallowedClassException.class)
                .rootCause().hasMessageContaining("org.peft4j.tribuo.EvilFeatures");
    }

    @Test
    void badInputIsRefusedWithWhatAndWhere() {
        SequenceExample<Label> empty = new SequenceExample<>(new ArrayList<Example<Label>>());
        assertThatThrownBy(() -> model.predict(List.of(TaggedSequences.unlabelled(List.of("hi")), empty)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sequence example 1 has no words");

        SequenceExample<Label> newTag = TaggedSequences.example(List.of("Ann", "in", "Paris"), List.of("B-PER", "O", "B-LOC"));
        assertThatThrownBy(() -> model.predict(newTag)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("word 2 of sequence example 0 has the tag \"B-LOC\"")
                .hasMessageContaining("never saw in training").hasMessageContaining("B-NUM");

        ListExample<Label> noWord = new ListExample<>(LabelFactory.UNKNOWN_LABEL);
        noWord.add(new Feature("suffix=ing", 1));
        SequenceExample<Label> missing = new SequenceExample<>(List.of(TaggedSequences.unlabelled(List.of("hi")).get(0),
                noWord));
        assertThatThrownBy(() -> model.predict(missing)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("word 1 of sequence example 0 has no feature named W=WORD")
                .hasMessageContaining("suffix=ing");

        SequenceExample<Label> control = TaggedSequences.unlabelled(List.of("hello", "\u0007", "world"));
        assertThatThrownBy(() -> model.predict(control)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("word 1 of sequence example 0").hasMessageContaining("gives the tokenizer no token");

        MutableSequenceDataset<Label> wrongPrefix = dataset("no words", List.of(sentence("a b", "O O")));
        assertThatThrownBy(() -> new TaggingPeftTrainer(PretrainedEncoder.huggingFace(encoderDir), LORA)
                .wordPrefix("word:").train(wrongPrefix)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("word 0 of sequence example 0 has no feature named word:WORD");

        assertThatThrownBy(() -> new TaggingPeftTrainer(PretrainedEncoder.huggingFace(encoderDir),
                LORA.withTaskType(TaskType.SEQ_CLS))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("task_type SEQ_CLS").hasMessageContaining("TOKEN_CLS");
    }
}
