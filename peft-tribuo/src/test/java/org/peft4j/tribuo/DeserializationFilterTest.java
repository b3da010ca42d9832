package org.peft4j.tribuo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnknownFieldSet;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.io.DisallowedClassException;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.lora.LoraSgdModel;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.Output;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.multilabel.MultiLabel;
import org.tribuo.multilabel.example.MultiLabelGaussianDataSource;
import org.tribuo.multilabel.sgd.objectives.BinaryCrossEntropy;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.regression.Regressor;
import org.tribuo.regression.example.GaussianDataSource;
import org.tribuo.regression.sgd.objectives.SquaredLoss;

/**
 * Serialized models from an untrusted source (issue 16, finding 4): a class that is not on the
 * allow-list is refused before it is loaded, so its static initializer and {@code readObject} never
 * run, in Java serialization and anywhere in a protobuf (the top level, a nested base model, its
 * metadata, its provenance, an adapter's objective). The side effects are system properties, set by
 * the hostile classes below; each test looks for its own, and the Java test shows that without the
 * filter the very same stream does run them.
 */
class DeserializationFilterTest {
    private static final LoraConfig CFG = LoraConfig.builder().optR(1).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL)
            .build();
    private static final String PREFIX = "peft4j.test.";

    private final Model<Label> base = DomainShiftTest.trainBase(DomainShiftTest.gaussians(200, 1, 0));
    private final Dataset<Label> sampleB = DomainShiftTest.gaussians(60, 2, 1.0);

    /** Harmless provenance that the tests serialize, then rename in the bytes to its hostile twin. */
    static final class ProvenanceA implements Provenance {
        private static final long serialVersionUID = 1L;
    }

    /** ProvenanceA's hostile twin: the same shape, with side effects on loading and on reading. */
    static final class ProvenanceB implements Provenance {
        private static final long serialVersionUID = 1L;

        static {
            System.setProperty(PREFIX + "ProvenanceB.static", "ran");
        }

        private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
            in.defaultReadObject();
            System.setProperty(PREFIX + "ProvenanceB.readObject", "ran");
        }
    }

    /** Named as a nested model's class. */
    static final class HostileModel implements Serializable {
        private static final long serialVersionUID = 1L;

        static {
            System.setProperty(PREFIX + "HostileModel.static", "ran");
        }
    }

    /** Named as an adapter's objective. */
    public static final class HostileObjective {
        static {
            System.setProperty(PREFIX + "HostileObjective.static", "ran");
        }

        /** Also a side effect, should the class be instantiated. */
        public HostileObjective() {
            System.setProperty(PREFIX + "HostileObjective.constructor", "ran");
        }
    }

    @AfterEach
    void clearProperties() {
        System.getProperties().stringPropertyNames().stream().filter(k -> k.startsWith(PREFIX))
                .forEach(System::clearProperty);
        System.clearProperty(ModelReader.ALLOWED_CLASSES_PROPERTY);
    }

    private static boolean ran(String sideEffect) {
        return "ran".equals(System.getProperty(PREFIX + sideEffect));
    }

    /** Replaces every occurrence of {@code from} in {@code data} by {@code to}, of the same length. */
    private static byte[] rename(byte[] data, String from, String to) {
        byte[] a = from.getBytes(StandardCharsets.UTF_8);
        byte[] b = to.getBytes(StandardCharsets.UTF_8);
        assertThat(b).hasSameSizeAs(a);
        byte[] out = data.clone();
        int count = 0;
        for (int i = 0; i + a.length <= out.length; i++) {
            if (java.util.Arrays.equals(out, i, i + a.length, a, 0, a.length)) {
                System.arraycopy(b, 0, out, i, b.length);
                count++;
            }
        }
        assertThat(count).as("occurrences of %s", from).isPositive();
        return out;
    }

    private static byte[] javaBytes(Object object) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(object);
        }
        return bytes.toByteArray();
    }

    @Test
    void aJavaStreamNamingAHostileClassIsRefusedBeforeItRuns() throws Exception {
        Map<String, Provenance> run = new HashMap<>();
        run.put("note", new ProvenanceA());
        LoraSgdModel<Label> model = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB, run);
        byte[] hostile = rename(javaBytes(model), ProvenanceA.class.getName(), ProvenanceB.class.getName());

        assertThatThrownBy(() -> ModelReader.readJava(new ByteArrayInputStream(hostile), "hostile.ser"))
                .isInstanceOf(DisallowedClassException.class).hasMessageContaining("hostile.ser")
                .hasMessageContaining(ProvenanceB.class.getName())
                .hasMessageContaining(ModelReader.ALLOWED_CLASSES_PROPERTY);
        assertThat(ran("ProvenanceB.static")).isFalse();
        assertThat(ran("ProvenanceB.readObject")).isFalse();

        // the hazard the filter closes: read plainly, the same bytes run the hostile class
        new ObjectInputStream(new ByteArrayInputStream(hostile)).readObject();
        assertThat(ran("ProvenanceB.static")).isTrue();
        assertThat(ran("ProvenanceB.readObject")).isTrue();
    }

    @Test
    void aClassAllowedByTheSystemPropertyIsRead() throws Exception {
        Map<String, Provenance> run = Map.of("note", new ProvenanceA());
        LoraSgdModel<Label> model = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB, run);
        byte[] bytes = javaBytes(model);
        assertThatThrownBy(() -> ModelReader.readJava(new ByteArrayInputStream(bytes), "a.ser"))
                .isInstanceOf(DisallowedClassException.class);
        System.setProperty(ModelReader.ALLOWED_CLASSES_PROPERTY, " java.net.URL ; " + ProvenanceA.class.getName());
        Model<?> read = ModelReader.readJava(new ByteArrayInputStream(bytes), "a.ser");
        assertThat(read.getProvenance().getInstanceProvenance().getMap().get("note")).isInstanceOf(ProvenanceA.class);
        System.setProperty(ModelReader.ALLOWED_CLASSES_PROPERTY, "!*");
        assertThatThrownBy(() -> ModelReader.permits("x.Y")).hasMessageContaining("'!*'");
    }

    @Test
    void theAllowListPatternsMatchAsInJdkSerialFilter() {
        assertThat(ModelReader.permits("org.tribuo.classification.sgd.linear.LinearSGDModel")).isTrue();
        assertThat(ModelReader.permits("java.util.HashMap")).isTrue();
        assertThat(ModelReader.permits("java.util.concurrent.ConcurrentHashMap")).isFalse();
        assertThat(ModelReader.permits("java.net.URL")).isFalse();
        assertThat(ModelReader.permits("org.tribuoX.Evil")).isFalse();
        assertThat(ModelReader.permits("org.peft4j.tribuo.lora.LoraSgdModel")).isTrue();
        assertThat(ModelReader.permits(HostileModel.class.getName())).isFalse();
        System.setProperty(ModelReader.ALLOWED_CLASSES_PROPERTY, "com.acme.*;com.deep.**;com.pre*");
        assertThat(ModelReader.permits("com.acme.A")).isTrue();
        assertThat(ModelReader.permits("com.acme.sub.A")).isFalse();
        assertThat(ModelReader.permits("com.deep.sub.A")).isTrue();
        assertThat(ModelReader.permits("com.prefixed.A")).isTrue();
    }

    /** The adapted model's proto with its base model's proto replaced. */
    private static ModelProto withBase(ModelProto adapted, ModelProto newBase) throws Exception {
        Any data = adapted.getSerializedData();
        UnknownFieldSet fields = UnknownFieldSet.parseFrom(data.getValue());
        UnknownFieldSet.Field baseField = UnknownFieldSet.Field.newBuilder()
                .addLengthDelimited(newBase.toByteString()).build();
        // field 2 is base_model; mergeField appends, so clear it first
        ByteString value = UnknownFieldSet.newBuilder(fields).clearField(2).mergeField(2, baseField).build()
                .toByteString();
        return adapted.toBuilder().setSerializedData(data.toBuilder().setValue(value)).build();
    }

    private static ModelProto baseOf(ModelProto adapted) throws Exception {
        UnknownFieldSet fields = UnknownFieldSet.parseFrom(adapted.getSerializedData().getValue());
        return ModelProto.parseFrom(fields.getField(2).getLengthDelimitedList().get(0));
    }

    @Test
    void aHostileNestedBaseModelIsRefusedWithoutInitializingIt() throws Exception {
        ModelProto adapted = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB).serialize();
        ModelProto hostile = withBase(adapted, baseOf(adapted).toBuilder()
                .setClassName(HostileModel.class.getName()).build());
        // through Tribuo's own reader: the top level is a genuine LoraSgdModel, its base is not
        assertThatThrownBy(() -> Model.deserialize(hostile)).hasRootCauseInstanceOf(DisallowedClassException.class)
                .rootCause().hasMessageContaining("base_model.class_name " + HostileModel.class.getName())
                .hasMessageContaining("LinearSGDModel");
        assertThatThrownBy(() -> ModelReader.deserialize(hostile, "hostile.tribuo"))
                .isInstanceOf(DisallowedClassException.class).hasMessageContaining("hostile.tribuo");
        assertThat(ran("HostileModel.static")).isFalse();
        // the unchanged message still reads
        assertThat(ModelReader.deserialize(withBase(adapted, baseOf(adapted)), "same").getProvenance())
                .isEqualTo(Model.deserialize(adapted).getProvenance());
    }

    @Test
    void hostileClassNamesDeepInsideTheBaseModelAreRefused() throws Exception {
        ModelProto adapted = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB).serialize();
        byte[] baseBytes = baseOf(adapted).toByteArray();
        // same-length names, so the crafted bytes stay valid protobuf
        Map<String, String> renames = Map.of(
                "org.tribuo.ImmutableFeatureMap", "org.peft4j.tribuo.EvilFeatures", // the feature domain's class_name
                "org.tribuo.provenance.ModelProvenance", "org.peft4j.tribuo.EvilModelProvenance", // provenance
                "org.tribuo.math.la.DenseMatrix", "org.peft4j.tribuo.EvilMatrix12"); // the weights' tensor class
        for (Map.Entry<String, String> rename : renames.entrySet()) {
            ModelProto crafted = withBase(adapted, ModelProto.parseFrom(rename(baseBytes, rename.getKey(),
                    rename.getValue())));
            assertThatThrownBy(() -> Model.deserialize(crafted)).as(rename.getKey())
                    .hasRootCauseInstanceOf(DisallowedClassException.class)
                    .rootCause().hasMessageContaining(rename.getValue()).hasMessageContaining("base_model");
            assertThatThrownBy(() -> ModelReader.deserialize(crafted, "crafted")).as(rename.getKey())
                    .isInstanceOf(DisallowedClassException.class);
        }
        // an enum provenance names its enum class in "additional"
        ModelProto enumCrafted = ModelProto.parseFrom(rename(adapted.toByteArray(), "org.peft4j.api.lora.LoraBias",
                "org.peft4j.api.lora.EvilEnum"));
        assertThatThrownBy(() -> ModelReader.deserialize(enumCrafted, "crafted"))
                .isInstanceOf(DisallowedClassException.class).hasMessageContaining("additional");
    }

    @Test
    void aHostileTopLevelClassOrAnUnknownMessageTypeIsRefusedByTheReader(@TempDir Path dir) throws Exception {
        ModelProto adapted = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB).serialize();
        Path file = dir.resolve("hostile.tribuo");
        Files.write(file, adapted.toBuilder().setClassName(HostileModel.class.getName()).build().toByteArray());
        assertThatThrownBy(() -> ModelReader.readProto(file)).isInstanceOf(DisallowedClassException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("class_name");
        assertThat(ran("HostileModel.static")).isFalse();

        ModelProto unknown = ModelProto.newBuilder().setClassName("org.tribuo.classification.sgd.linear.LinearSGDModel")
                .setSerializedData(Any.newBuilder().setTypeUrl("type.googleapis.com/evil.Payload")
                        .setValue(ByteString.copyFromUtf8("x"))).build();
        assertThatThrownBy(() -> ModelReader.deserialize(unknown, "unknown"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("evil.Payload");
    }

    @Test
    void anAdaptersObjectiveClassIsCheckedBeforeItIsLoaded(@TempDir Path dir) throws Exception {
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB);
        apart.saveAdapter(dir);
        AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
        Map<String, String> metadata = new HashMap<>(saved.metadata());
        metadata.put(LoraSgdModel.OBJECTIVE, HostileObjective.class.getName());
        new AdapterCheckpoint(saved.config(), saved.tensors(), metadata).save(dir);
        assertThatThrownBy(() -> LoraSgdModel.load(base, dir)).isInstanceOf(DisallowedClassException.class)
                .hasMessageContaining(LoraSgdModel.OBJECTIVE);
        // allowed by name, it is still loaded without initializing and refused as not a loss
        System.setProperty(ModelReader.ALLOWED_CLASSES_PROPERTY, HostileObjective.class.getName());
        assertThatThrownBy(() -> LoraSgdModel.load(base, dir)).hasMessageContaining("LabelObjective");
        assertThat(ran("HostileObjective.static")).isFalse();
        assertThat(ran("HostileObjective.constructor")).isFalse();
    }

    private static <T extends Output<T>> void assertRoundTrips(Model<T> model, Dataset<T> data, Class<T> type)
            throws Exception {
        List<Prediction<T>> expected = model.predict(data);
        Model<?> fromProto = ModelReader.deserialize(model.serialize(), model.getName());
        Model<?> fromJava = ModelReader.readJava(new ByteArrayInputStream(javaBytes(model)), model.getName());
        for (Model<?> copy : List.of(fromProto, fromJava)) {
            List<Prediction<T>> actual = copy.castModel(type).predict(data);
            for (int i = 0; i < expected.size(); i++) {
                assertThat(actual.get(i).getOutputScores()).isEqualTo(expected.get(i).getOutputScores());
                assertThat(actual.get(i).getOutput()).isEqualTo(expected.get(i).getOutput());
            }
        }
    }

    @Test
    void regressionAndMultiLabelModelsPassTheChecks() throws Exception {
        Dataset<Regressor> ra = new MutableDataset<>(new GaussianDataSource(200, 1f, 0f, 0.1f, -2f, 2f, 1));
        Dataset<Regressor> rb = new MutableDataset<>(new GaussianDataSource(40, 1.6f, 1.5f, 0.1f, -2f, 2f, 2));
        Model<Regressor> regressionBase = new org.tribuo.regression.sgd.linear.LinearSGDTrainer(new SquaredLoss(),
                new org.tribuo.math.optimisers.AdaGrad(0.1), 2, 1L).train(ra);
        assertRoundTrips(TribuoPeft.lora(regressionBase, CFG).epochs(1).trainAdapter(rb), rb, Regressor.class);
        assertRoundTrips(TribuoPeft.warmStart(regressionBase).epochs(1).train(rb), rb, Regressor.class);

        Dataset<MultiLabel> ma = new MutableDataset<>(MultiLabelGaussianDataSource.makeDefaultSource(200, 1));
        Dataset<MultiLabel> mb = new MutableDataset<>(MultiLabelGaussianDataSource.makeDefaultSource(40, 2));
        Model<MultiLabel> multiBase = new org.tribuo.multilabel.sgd.linear.LinearSGDTrainer(new BinaryCrossEntropy(),
                new org.tribuo.math.optimisers.AdaGrad(0.1), 2, 1L).train(ma);
        assertRoundTrips(TribuoPeft.lora(multiBase, CFG).epochs(1).trainAdapter(mb), mb, MultiLabel.class);
    }
}
