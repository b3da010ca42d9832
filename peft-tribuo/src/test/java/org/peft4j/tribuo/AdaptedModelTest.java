package org.peft4j.tribuo;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.lora.LoraSgdModel;
import org.peft4j.tribuo.lora.LoraSgdTrainer;
import org.peft4j.tribuo.sgd.AdaptedSgdTrainer;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.baseline.DummyClassifierTrainer;
import org.tribuo.impl.ArrayExample;
import org.tribuo.multilabel.MultiLabel;
import org.tribuo.multilabel.evaluation.MultiLabelEvaluator;
import org.tribuo.multilabel.example.MultiLabelGaussianDataSource;
import org.tribuo.multilabel.sgd.objectives.BinaryCrossEntropy;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.provenance.SimpleDataSourceProvenance;

/**
 * What a Tribuo user does with an adapted model: evaluate, explain, export to ONNX, serialize both
 * ways, save and load the adapter, read the provenance; and the domain-shift policy and errors.
 */
class AdaptedModelTest {
    private static final LoraConfig CFG = LoraConfig.builder().optR(1).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL)
            .build();

    private final Model<Label> base = DomainShiftTest.trainBase(DomainShiftTest.gaussians(500, 1, 0));
    private final Dataset<Label> sampleB = DomainShiftTest.gaussians(80, 2, 1.0);
    private final Dataset<Label> testB = DomainShiftTest.gaussians(300, 3, 1.0);

    private static <T extends org.tribuo.Output<T>> void assertSamePredictions(Model<T> expected, Model<T> actual,
            Dataset<T> data) {
        List<Prediction<T>> a = expected.predict(data);
        List<Prediction<T>> b = actual.predict(data);
        for (int i = 0; i < a.size(); i++) {
            assertThat(b.get(i).getOutput()).isEqualTo(a.get(i).getOutput());
            assertThat(b.get(i).getOutputScores()).isEqualTo(a.get(i).getOutputScores());
        }
    }

    @Test
    void adapterKeptApartPredictsAsTheMergedModelAndExplainsItself() {
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(5).trainAdapter(sampleB);
        Model<Label> merged = apart.merge();
        assertThat(merged).isInstanceOf(org.tribuo.classification.sgd.linear.LinearSGDModel.class);
        assertSamePredictions(merged, apart, testB);
        Map<String, List<com.oracle.labs.mlrg.olcut.util.Pair<String, Double>>> top = apart.getTopFeatures(3);
        assertThat(top.keySet()).contains("X", "O");
        assertThat(top.get("X")).extracting(com.oracle.labs.mlrg.olcut.util.Pair::getA).contains(Model.BIAS_FEATURE);
        Example<Label> example = testB.getExample(0);
        assertThat(apart.getExcuse(example)).isPresent();
        assertThat(apart.getExcuse(example).get().excuse("X")).isNotEmpty();
        assertThat(apart.trainableParameters()).isEqualTo(2 + 2 + 2);
    }

    @Test
    void onnxExportScoresAsTribuoInOnnxRuntime() throws Exception {
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(5).trainAdapter(sampleB);
        byte[] onnx = apart.exportONNXModel("org.peft4j.test", 1).toByteArray();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(onnx, new OrtSession.SessionOptions())) {
            for (int i = 0; i < 20; i++) {
                Example<Label> example = testB.getExample(i);
                float[][] input = new float[1][apart.getFeatureIDMap().size()];
                example.forEach(f -> input[0][apart.getFeatureIDMap().getID(f.getName())] = (float) f.getValue());
                try (OnnxTensor tensor = OnnxTensor.createTensor(env, input);
                        OrtSession.Result result = session.run(Map.of("input", tensor))) {
                    float[] scores = ((float[][]) result.get(0).getValue())[0];
                    Prediction<Label> prediction = apart.predict(example);
                    for (int o = 0; o < scores.length; o++) {
                        String label = apart.getOutputIDInfo().getOutput(o).getLabel();
                        assertThat((double) scores[o]).isCloseTo(prediction.getOutputScores().get(label).getScore(),
                                org.assertj.core.api.Assertions.within(1e-5));
                    }
                }
            }
        }
    }

    @Test
    void javaAndProtobufSerializationKeepPredictionsAndProvenance(@TempDir Path dir) throws Exception {
        LoraSgdTrainer<Label> trainer = TribuoPeft.lora(base, CFG).epochs(5);
        LoraSgdModel<Label> apart = trainer.trainAdapter(sampleB);
        Model<Label> merged = TribuoPeft.lora(base, CFG).epochs(5).train(sampleB);
        for (Model<Label> model : List.of(apart, merged)) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(model);
            }
            @SuppressWarnings("unchecked")
            Model<Label> javaCopy = (Model<Label>) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))
                    .readObject();
            assertSamePredictions(model, javaCopy, testB);
            Model<?> filteredJavaCopy = ModelReader.readJava(new ByteArrayInputStream(bytes.toByteArray()), "bytes");
            assertSamePredictions(model, filteredJavaCopy.castModel(Label.class), testB);
            Path file = dir.resolve(model.getClass().getSimpleName() + ".tribuo");
            model.serializeToFile(file);
            for (Model<?> protoCopy : List.of(Model.deserializeFromFile(file), ModelReader.readProto(file))) {
                assertThat(protoCopy.getClass()).isEqualTo(model.getClass());
                assertSamePredictions(model, protoCopy.castModel(Label.class), testB);
                assertThat(protoCopy.getProvenance()).isEqualTo(model.getProvenance());
                assertThat(protoCopy.getName()).isEqualTo(model.getName());
            }
        }
    }

    @Test
    void provenanceRecordsTheAdapterSettingsAndTheBaseModel() {
        Model<Label> merged = TribuoPeft.lora(base, CFG).epochs(5).train(sampleB);
        ModelProvenance provenance = merged.getProvenance();
        Map<String, Provenance> settings = provenance.getTrainerProvenance().getConfiguredParameters();
        assertThat(settings.get("r").toString()).contains("1");
        assertThat(settings.get("loraAlpha").toString()).contains("2.0");
        assertThat(settings.get("bias").toString()).contains("ALL");
        assertThat(settings.get("optimiser").toString()).contains("AdaGrad");
        assertThat(settings.get("objective").toString()).contains("LogMulticlass");
        assertThat(provenance.getInstanceProvenance().getMap().get(AdaptedSgdTrainer.BASE_MODEL_PROVENANCE))
                .isEqualTo(base.getProvenance());
        assertThat(provenance.getDatasetProvenance()).isEqualTo(sampleB.getProvenance());
    }

    @Test
    void savedAdapterLoadsOntoTheBaseAndPredictsBitForBit(@TempDir Path dir) throws Exception {
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(5).trainAdapter(sampleB);
        apart.saveAdapter(dir);
        AdapterCheckpoint checkpoint = AdapterCheckpoint.load(dir);
        assertThat(checkpoint.tensors().keySet()).containsExactlyInAnyOrder("base_model.model.linear.lora_A.weight",
                "base_model.model.linear.lora_B.weight", "base_model.model.linear.bias");
        assertThat(checkpoint.tensors().get("base_model.model.linear.lora_A.weight").shape()).containsExactly(1, 2);
        assertThat(checkpoint.metadata()).containsEntry("format", "pt").containsKey(LoraSgdModel.FEATURE_NAMES);
        assertThat(Files.readString(dir.resolve("adapter_config.json"))).contains("\"r\" : 1").contains("\"inference_mode\" : true");
        LoraSgdModel<Label> loaded = LoraSgdModel.load(base, dir);
        assertSamePredictions(apart, loaded, testB);
        assertThat(loaded.getProvenance().getInstanceProvenance().getMap()).containsKey(LoraSgdModel.ADAPTER_SOURCE);
    }

    @Test
    void brokenAdapterFilesFailClearly(@TempDir Path dir) throws Exception {
        LoraSgdModel<Label> apart = TribuoPeft.lora(base, CFG).epochs(1).trainAdapter(sampleB);
        apart.saveAdapter(dir);
        Path weights = dir.resolve(AdapterCheckpoint.WEIGHTS_FILE);
        byte[] whole = Files.readAllBytes(weights);
        Files.write(weights, java.util.Arrays.copyOf(whole, whole.length - 9));
        assertThatThrownBy(() -> LoraSgdModel.load(base, dir)).isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining(AdapterCheckpoint.WEIGHTS_FILE);
        // a rank that does not match the tensors
        Files.write(weights, whole);
        Path config = dir.resolve(AdapterCheckpoint.CONFIG_FILE);
        Files.writeString(config, Files.readString(config).replace("\"r\" : 1", "\"r\" : 3"));
        assertThatThrownBy(() -> LoraSgdModel.load(base, dir)).isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("lora_A.weight has shape [1, 2], expected [3, 2]");
        assertThatThrownBy(() -> LoraSgdModel.load(base, dir.resolve("nowhere"))).isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("adapter_config.json");
    }

    @Test
    void newFeaturesAndLabelsJoinTheModelAndMovedIdsAreMatchedByName() {
        // the base knows features "b" and "c" and labels X and O
        LabelFactory factory = new LabelFactory();
        MutableDataset<Label> a = new MutableDataset<>(new SimpleDataSourceProvenance("a", factory), factory);
        java.util.SplittableRandom random = new java.util.SplittableRandom(9);
        for (int i = 0; i < 400; i++) {
            boolean x = random.nextBoolean();
            a.add(new ArrayExample<>(new Label(x ? "X" : "O"), new String[] {"b", "c"},
                    new double[] {(x ? 1 : -1) + random.nextGaussian() * 0.3, random.nextGaussian()}));
        }
        Model<Label> base = DomainShiftTest.trainBase(a);
        // new data: a feature "a" that sorts first (every old id moves by one) and a label Z only "a" tells apart
        MutableDataset<Label> b = new MutableDataset<>(new SimpleDataSourceProvenance("b", factory), factory);
        for (int i = 0; i < 300; i++) {
            int kind = random.nextInt(3);
            String label = kind == 0 ? "X" : kind == 1 ? "O" : "Z";
            b.add(new ArrayExample<>(new Label(label), new String[] {"a", "b", "c"},
                    new double[] {kind == 2 ? 2 : 0, (kind == 0 ? 1 : kind == 1 ? -1 : 0) + random.nextGaussian() * 0.3,
                            random.nextGaussian()}));
        }
        // a fresh adapter (B = 0) scores every known label exactly as the base, despite the moved ids
        LoraConfig fresh = LoraConfig.builder().optR(1).setTargetAllLinear().optInitLoraWeights(LoraInit.KAIMING_UNIFORM).build();
        LoraSgdModel<Label> untrained = TribuoPeft.lora(base, fresh).epochs(1)
                .optimiser(org.tribuo.math.optimisers.SGD.getSimpleSGD(0.0)).trainAdapter(b);
        assertThat(untrained.getFeatureIDMap().getID("a")).isZero();
        assertThat(untrained.getOutputIDInfo().size()).isEqualTo(3);
        Example<Label> probe = new ArrayExample<>(new Label("X"), new String[] {"b", "c"}, new double[] {0.8, 0.1});
        var before = base.getExcuse(probe).get();
        var after = untrained.getExcuse(probe).get();
        for (String label : List.of("X", "O")) {
            assertThat(after.excuse(label)).containsExactlyInAnyOrderElementsOf(before.excuse(label));
        }
        // trained, the adapter learns the new feature and the new label
        LoraConfig cfg = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL).build();
        Model<Label> adapted = TribuoPeft.lora(base, cfg).epochs(10).train(b);
        Example<Label> zed = new ArrayExample<>(new Label("Z"), new String[] {"a", "b", "c"}, new double[] {2, 0, 0});
        assertThat(adapted.predict(zed).getOutput().getLabel()).isEqualTo("Z");
        assertThat(DomainShiftTest.accuracy(adapted, b)).isGreaterThan(0.9);
        // with IGNORE the new feature is dropped and the feature map stays the base's
        Model<Label> ignoring = TribuoPeft.lora(base, cfg).epochs(1)
                .newFeatures(org.peft4j.tribuo.sgd.AlignedDomain.NewFeatures.IGNORE).train(b);
        assertThat(ignoring.getFeatureIDMap().keySet()).containsExactlyInAnyOrder("b", "c");
    }

    @Test
    void multiLabelModelsAdaptToo() {
        Dataset<MultiLabel> a = new MutableDataset<>(MultiLabelGaussianDataSource.makeDefaultSource(1000, 1));
        Dataset<MultiLabel> b = new MutableDataset<>(MultiLabelGaussianDataSource.makeDefaultSource(200, 2));
        Model<MultiLabel> base = new org.tribuo.multilabel.sgd.linear.LinearSGDTrainer(new BinaryCrossEntropy(),
                new org.tribuo.math.optimisers.AdaGrad(0.1), 2, 1L).train(a);
        Model<MultiLabel> adapted = TribuoPeft.lora(base, CFG).epochs(3).train(b);
        assertThat(adapted).isInstanceOf(org.tribuo.multilabel.sgd.linear.LinearSGDModel.class);
        double baseF1 = new MultiLabelEvaluator().evaluate(base, b).microAveragedF1();
        double adaptedF1 = new MultiLabelEvaluator().evaluate(adapted, b).microAveragedF1();
        System.out.printf("multi-label: micro F1 base %.4f, adapted %.4f on the adaptation data%n", baseF1, adaptedF1);
        assertThat(adaptedF1).isGreaterThanOrEqualTo(baseF1 - 0.01);
    }

    @Test
    void unsuitableModelsAndConfigsAreRefusedWithTheReason() {
        Model<Label> dummy = DummyClassifierTrainer.createConstantTrainer("X").train(sampleB);
        assertThatThrownBy(() -> TribuoPeft.lora(dummy, CFG)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("DummyClassifierModel").hasMessageContaining("LinearSGDModel");
        LoraConfig query = LoraConfig.builder().setTargetModules("query").build();
        assertThatThrownBy(() -> TribuoPeft.lora(base, query)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("its only module is \"linear\"");
        LoraConfig dropout = CFG.toBuilder().optLoraDropout(0.1f).build();
        assertThatThrownBy(() -> TribuoPeft.lora(base, dropout)).hasMessageContaining("lora_dropout");
        assertThatThrownBy(() -> TribuoPeft.lora(base, CFG).objective(new org.tribuo.regression.sgd.objectives.SquaredLoss()))
                .hasMessageContaining("LabelObjective");
    }
}
