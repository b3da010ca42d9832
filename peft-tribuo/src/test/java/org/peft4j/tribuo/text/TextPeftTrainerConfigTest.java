package org.peft4j.tribuo.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.oracle.labs.mlrg.olcut.config.ConfigurationManager;
import com.oracle.labs.mlrg.olcut.provenance.ProvenanceUtil;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.tribuo.io.DisallowedClassException;
import org.tribuo.Dataset;
import org.tribuo.MutableDataset;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.impl.ArrayExample;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/**
 * {@link TextPeftTrainer} as an OLCUT configurable, on a tiny random encoder in Hugging Face's
 * layout (hidden 16, one layer, MiniLM's vocabulary and tokenizer): built from an XML file it trains
 * the adapter the same settings train in code, bit for bit, and the model's provenance rebuilds it.
 * Also: the model's protobuf refuses a hostile class name in its metadata.
 */
class TextPeftTrainerConfigTest {
    @TempDir
    static Path encoderDir;
    private static final LoraConfig LORA = LoraConfig.builder().optR(2).optLoraAlpha(4).setTargetModules("query", "value").build();

    @BeforeAll
    static void writeTinyEncoder() throws Exception {
        try (Model model = Model.newInstance("tiny")) {
            BertModel bert = new BertModel(new BertConfig(30522, 16, 1, 2, 32, 64, 2, 1e-12f, 0f, 0f));
            bert.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
            BertSequenceClassifier classifier = new BertSequenceClassifier(bert, 2)
                    .initializeHead(model.getNDManager());
            ClassifierDirectory.save(classifier, List.of("a", "b"), encoderDir, java.util.Map.of());
        }
        try (InputStream tokenizer = TextPeftTrainerConfigTest.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            Files.copy(tokenizer, encoderDir.resolve("tokenizer.json"));
        }
    }

    private static Dataset<Label> texts(int n, int offset) {
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance("texts " + offset, factory),
                factory);
        String[] spam = {"win money now", "cheap pills online", "claim your free prize", "click here to earn cash"};
        String[] ham = {"meeting moved to noon", "see the attached report", "lunch tomorrow with the team",
            "notes from the review"};
        for (int i = 0; i < n; i++) {
            boolean isSpam = (i + offset) % 2 == 0;
            String text = (isSpam ? spam : ham)[(i + offset) / 2 % 4] + " " + (i + offset);
            ArrayExample<Label> example = new ArrayExample<>(new Label(isSpam ? "spam" : "ham"), new String[] {"len"},
                    new double[] {text.length()});
            example.setMetadataValue(TextPeftTrainer.DEFAULT_TEXT_FIELD, text);
            data.add(example);
        }
        return data;
    }

    private static String component() {
        // the adapter's settings as adapter_config.json, in single quotes inside the XML attribute
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config>\n"
                + "<component name=\"tuner\" type=\"org.peft4j.tribuo.text.TextPeftTrainer\">\n"
                + "  <property name=\"encoderKind\" value=\"HUGGING_FACE\"/>\n"
                + "  <property name=\"encoderLocation\" value=\"" + encoderDir + "\"/>\n"
                + "  <property name=\"encoderTokenizer\" value=\"" + encoderDir.resolve("tokenizer.json") + "\"/>\n"
                + "  <property name=\"adapterConfig\" value='{\"peft_type\": \"LORA\", \"r\": 2, \"lora_alpha\": 4,"
                + " \"target_modules\": [\"query\", \"value\"]}'/>\n"
                + "  <property name=\"maxLength\" value=\"16\"/>\n"
                + "  <property name=\"epochs\" value=\"2\"/>\n"
                + "  <property name=\"batchSize\" value=\"4\"/>\n"
                + "  <property name=\"learningRate\" value=\"0.01\"/>\n"
                + "  <property name=\"seed\" value=\"5\"/>\n"
                + "</component>\n</config>\n";
    }

    @Test
    @SuppressWarnings("unchecked")
    void aTextTrainerFromAnXmlFileTrainsTheAdapterTheSameSettingsTrainInCode(@TempDir Path dir) throws Exception {
        Path xml = dir.resolve("text.xml");
        Files.writeString(xml, component(), StandardCharsets.UTF_8);
        TextPeftTrainer<Label> configured = (TextPeftTrainer<Label>) new ConfigurationManager(xml.toString())
                .lookup("tuner");
        TextPeftTrainer<Label> coded = TextPeftTrainer.classification(PretrainedEncoder.huggingFace(encoderDir), LORA)
                .maxLength(16).schedule(2, 4, 0.01f).seed(5);
        assertThat(configured.encoder()).isEqualTo(coded.encoder());
        assertThat(configured.config()).isEqualTo(coded.config());
        assertThat(configured.config().modulesToSave()).containsExactly(TextPeftTrainer.HEAD);

        Dataset<Label> train = texts(16, 0);
        Dataset<Label> probe = texts(6, 100);
        try (TextPeftModel<Label> fromConfig = configured.train(train);
                TextPeftModel<Label> fromCode = coded.train(train)) {
            assertThat(fromConfig.adapter().weightBytes()).isEqualTo(fromCode.adapter().weightBytes());
            List<Prediction<Label>> a = fromConfig.predict(probe);
            List<Prediction<Label>> b = fromCode.predict(probe);
            for (int i = 0; i < a.size(); i++) {
                assertThat(a.get(i).getOutputScores()).isEqualTo(b.get(i).getOutputScores());
            }
            assertThat(fromConfig.getProvenance().getTrainerProvenance())
                    .isEqualTo(fromCode.getProvenance().getTrainerProvenance());

            // the model's provenance rebuilds the trainer, which trains the same adapter
            ConfigurationManager cm = new ConfigurationManager();
            cm.addConfiguration(ProvenanceUtil.extractConfiguration(fromCode.getProvenance()));
            String name = cm.listAll(TextPeftTrainer.class).get(0);
            TextPeftTrainer<Label> rebuilt = (TextPeftTrainer<Label>) cm.lookup(name);
            assertThat(rebuilt.getProvenance()).isEqualTo(fromCode.getProvenance().getTrainerProvenance());
            try (TextPeftModel<Label> again = rebuilt.train(train)) {
                assertThat(again.adapter().weightBytes()).isEqualTo(fromCode.adapter().weightBytes());
            }

            // a hostile class name in the metadata is refused before Tribuo loads it
            byte[] bytes = fromCode.serialize().toByteArray();
            String genuine = "org.tribuo.ImmutableFeatureMap";
            String hostile = "org.peft4j.tribuo.EvilFeatures";
            String crafted = new String(bytes, StandardCharsets.ISO_8859_1).replace(genuine, hostile);
            ModelProto proto = ModelProto.parseFrom(crafted.getBytes(StandardCharsets.ISO_8859_1));
            assertThatThrownBy(() -> org.tribuo.Model.deserialize(proto))
                    .hasRootCauseInstanceOf(DisallowedClassException.class).rootCause().hasMessageContaining(hostile);
        }
    }

    @Test
    void aBadAdapterConfigInAConfigFileNamesTheField(@TempDir Path dir) throws Exception {
        Path xml = dir.resolve("bad.xml");
        Files.writeString(xml, component().replace("\"r\": 2", "\"r\": 0"), StandardCharsets.UTF_8);
        ConfigurationManager cm = new ConfigurationManager(xml.toString());
        assertThatThrownBy(() -> cm.lookup("tuner")).hasStackTraceContaining("adapterConfig")
                .hasStackTraceContaining("r must be a positive integer");
    }
}
