package org.peft4j.tribuo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.oracle.labs.mlrg.olcut.config.ConfigurationManager;
import com.oracle.labs.mlrg.olcut.provenance.ProvenanceUtil;
import com.oracle.labs.mlrg.olcut.provenance.primitives.IntProvenance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.lora.LoraSgdModel;
import org.peft4j.tribuo.lora.LoraSgdTrainer;
import org.peft4j.tribuo.sgd.WarmStartTrainer;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.sgd.linear.LinearSGDModel;
import org.tribuo.classification.sgd.objectives.Hinge;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.provenance.ModelProvenance;

/**
 * The trainers as OLCUT configurables, as Tribuo's own trainers are: built from an XML
 * configuration file they train exactly the model the same settings train in code, and a trained
 * model's provenance (after a trip through a model file) converts back into a configuration file
 * that rebuilds the trainer and trains that model again.
 */
class OlcutConfigTest {
    private final Model<Label> base = DomainShiftTest.trainBase(DomainShiftTest.gaussians(300, 1, 0));
    private final Dataset<Label> sampleB = DomainShiftTest.gaussians(80, 2, 1.0);
    private final Dataset<Label> testB = DomainShiftTest.gaussians(200, 3, 1.0);

    private static void assertSamePredictions(Model<Label> expected, Model<Label> actual, Dataset<Label> data) {
        List<Prediction<Label>> a = expected.predict(data);
        List<Prediction<Label>> b = actual.predict(data);
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i).getOutputScores()).as("example %d", i).isEqualTo(a.get(i).getOutputScores());
        }
    }

    private Path saveBase(Path dir) throws Exception {
        Path file = dir.resolve("base.tribuo");
        base.serializeToFile(file);
        return file;
    }

    private static Path xml(Path dir, String components) throws Exception {
        Path file = dir.resolve("trainer.xml");
        Files.writeString(file, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config>\n" + components + "</config>\n");
        return file;
    }

    private static String loraComponent(Path baseFile, String extra) {
        return "<component name=\"tuner\" type=\"org.peft4j.tribuo.lora.LoraSgdTrainer\">\n"
                + "  <property name=\"baseModel\" value=\"" + baseFile + "\"/>\n"
                + "  <property name=\"r\" value=\"2\"/>\n"
                + "  <property name=\"loraAlpha\" value=\"4\"/>\n"
                + "  <property name=\"bias\" value=\"ALL\"/>\n"
                + "  <property name=\"epochs\" value=\"3\"/>\n"
                + "  <property name=\"minibatchSize\" value=\"2\"/>\n"
                + "  <property name=\"seed\" value=\"7\"/>\n"
                + "  <property name=\"optimiser\" value=\"adagrad\"/>\n"
                + extra
                + "</component>\n"
                + "<component name=\"adagrad\" type=\"org.tribuo.math.optimisers.AdaGrad\">\n"
                + "  <property name=\"initialLearningRate\" value=\"0.2\"/>\n"
                + "</component>\n";
    }

    private static final LoraConfig CFG = LoraConfig.builder().optR(2).optLoraAlpha(4).setTargetAllLinear().optBias(LoraBias.ALL)
            .build();

    @Test
    @SuppressWarnings("unchecked")
    void aLoraTrainerFromAnXmlFileTrainsTheModelTheSameSettingsTrainInCode(@TempDir Path dir) throws Exception {
        Path baseFile = saveBase(dir);
        ConfigurationManager cm = new ConfigurationManager(xml(dir, loraComponent(baseFile, "")).toString());
        LoraSgdTrainer<Label> configured = (LoraSgdTrainer<Label>) cm.lookup("tuner");
        LoraSgdTrainer<Label> coded = TribuoPeft.lora(baseFile, Label.class, CFG).epochs(3).minibatchSize(2).seed(7)
                .optimiser(new AdaGrad(0.2));
        assertThat(configured.config()).isEqualTo(coded.config());
        assertThat(configured.config().r()).isEqualTo(2);
        assertThat(configured.config().scalingFor(LoraSgdModel.MODULE)).isEqualTo(2f);

        Model<Label> fromConfig = configured.train(sampleB);
        Model<Label> fromCode = coded.train(sampleB);
        assertThat(fromConfig).isInstanceOf(LinearSGDModel.class);
        assertSamePredictions(fromCode, fromConfig, testB);
        assertThat(fromConfig.getProvenance().getTrainerProvenance())
                .isEqualTo(fromCode.getProvenance().getTrainerProvenance());
        // the model in memory trains the same weights; only the provenance lacks the file
        Model<Label> fromMemory = TribuoPeft.lora(base, CFG).epochs(3).minibatchSize(2).seed(7)
                .optimiser(new AdaGrad(0.2)).train(sampleB);
        assertSamePredictions(fromCode, fromMemory, testB);

        ConfigurationManager apart = new ConfigurationManager(xml(dir, loraComponent(baseFile,
                "  <property name=\"merge\" value=\"false\"/>\n  <property name=\"objective\" value=\"hinge\"/>\n")
                + "<component name=\"hinge\" type=\"org.tribuo.classification.sgd.objectives.Hinge\"/>\n").toString());
        Model<Label> adapter = ((LoraSgdTrainer<Label>) apart.lookup("tuner")).train(sampleB);
        assertThat(adapter).isInstanceOf(LoraSgdModel.class);
        assertSamePredictions(coded.objective(new Hinge()).keepAdapterApart().train(sampleB), adapter, testB);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aWarmStartTrainerFromAnXmlFileTrainsTheModelCodeTrains(@TempDir Path dir) throws Exception {
        Path baseFile = saveBase(dir);
        ConfigurationManager cm = new ConfigurationManager(xml(dir,
                "<component name=\"warm\" type=\"org.peft4j.tribuo.sgd.WarmStartTrainer\">\n"
                        + "  <property name=\"baseModel\" value=\"" + baseFile + "\"/>\n"
                        + "  <property name=\"epochs\" value=\"2\"/>\n"
                        + "  <property name=\"newFeatures\" value=\"IGNORE\"/>\n"
                        + "</component>\n").toString());
        WarmStartTrainer<Label> configured = (WarmStartTrainer<Label>) cm.lookup("warm");
        WarmStartTrainer<Label> coded = TribuoPeft.warmStart(baseFile, Label.class).epochs(2)
                .newFeatures(org.peft4j.tribuo.sgd.AlignedDomain.NewFeatures.IGNORE);
        Model<Label> fromConfig = configured.train(sampleB);
        assertSamePredictions(coded.train(sampleB), fromConfig, testB);
        assertThat(fromConfig.getProvenance().getTrainerProvenance().getConfiguredParameters().get("objective")
                .toString()).contains("LogMulticlass");
    }

    @Test
    @SuppressWarnings("unchecked")
    void theProvenanceOfASavedModelRebuildsItsTrainer(@TempDir Path dir) throws Exception {
        Path baseFile = saveBase(dir);
        LoraSgdTrainer<Label> trainer = TribuoPeft.lora(baseFile, Label.class, CFG).epochs(3).seed(11);
        trainer.train(sampleB);
        Model<Label> second = trainer.train(sampleB);
        Path modelFile = dir.resolve("second.tribuo");
        second.serializeToFile(modelFile);
        ModelProvenance provenance = ModelReader.readProto(modelFile).getProvenance();
        int invocation = ((IntProvenance) provenance.getTrainerProvenance().getInstanceValues()
                .get("train-invocation-count")).getValue();
        assertThat(invocation).isEqualTo(1);

        ConfigurationManager extracted = new ConfigurationManager();
        extracted.addConfiguration(ProvenanceUtil.extractConfiguration(provenance));
        Path configFile = dir.resolve("rebuilt.xml");
        extracted.save(configFile.toFile(), true);
        assertThat(Files.readString(configFile)).contains("org.peft4j.tribuo.lora.LoraSgdTrainer")
                .contains(baseFile.toString());
        ConfigurationManager cm = new ConfigurationManager(configFile.toString());
        List<String> names = cm.listAll(LoraSgdTrainer.class);
        assertThat(names).hasSize(1);
        LoraSgdTrainer<Label> rebuilt = (LoraSgdTrainer<Label>) cm.lookup(names.get(0));
        rebuilt.setInvocationCount(invocation);
        Model<Label> again = rebuilt.train(sampleB);
        assertSamePredictions(second, again, testB);
        assertThat(again.getProvenance().getTrainerProvenance()).isEqualTo(provenance.getTrainerProvenance());

        // a trainer around a model in memory records no file: its provenance says what is missing
        ModelProvenance inMemory = TribuoPeft.lora(base, CFG).train(sampleB).getProvenance();
        ConfigurationManager missing = new ConfigurationManager();
        missing.addConfiguration(ProvenanceUtil.extractConfiguration(inMemory));
        String name = missing.listAll(LoraSgdTrainer.class).get(0);
        assertThatThrownBy(() -> missing.lookup(name)).hasStackTraceContaining("baseModel")
                .hasStackTraceContaining("Model.serializeToFile");
    }

    @Test
    void badSettingsInAConfigFileNameTheirField(@TempDir Path dir) throws Exception {
        Path baseFile = saveBase(dir);
        Map<String, String> cases = Map.of(
                "<property name=\"r\" value=\"0\"/>", "r must be a positive integer",
                "<property name=\"epochs\" value=\"0\"/>", "epochs must be positive");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String component = loraComponent(baseFile, "").replace("<property name=\"r\" value=\"2\"/>", "")
                    .replace("<property name=\"epochs\" value=\"3\"/>", "").replace("</component>\n<component name=\"adagrad\"",
                            "  " + c.getKey() + "\n</component>\n<component name=\"adagrad\"");
            ConfigurationManager cm = new ConfigurationManager(xml(dir, component).toString());
            assertThatThrownBy(() -> cm.lookup("tuner")).as(c.getKey()).hasStackTraceContaining(c.getValue());
        }
        // the base model file is read with the class checks
        Path hostile = dir.resolve("hostile.tribuo");
        Files.write(hostile, ModelProto.newBuilder(base.serialize()).setClassName("com.evil.Payload").build()
                .toByteArray());
        ConfigurationManager cm = new ConfigurationManager(xml(dir, loraComponent(hostile, "")).toString());
        assertThatThrownBy(() -> cm.lookup("tuner")).hasStackTraceContaining("com.evil.Payload")
                .hasStackTraceContaining(ModelReader.ALLOWED_CLASSES_PROPERTY);
    }
}
