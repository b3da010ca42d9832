package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.lora.algebra.LoraDecompositionInit;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.ClassifierHead;

/**
 * Files peft4j writes, for Python to load: an adapter of each kind trained a few steps on the
 * golden tiny BERT (GoldenInteropTest), a trained PiSSA adapter converted to plain LoRA for the
 * original base, and two merged exports (Python's pooler head and the
 * mean-pooled head), each with the logits peft4j computes on the golden inputs. The layout every
 * file must have for PEFT is asserted here; with {@code -Dpeft4j.python=PYTHON} (a Python with
 * torch, transformers and peft; {@code .ci/run} makes one when this machine has the packages),
 * {@code src/test/python/check_java_files.py} loads each in Python's PEFT and transformers and
 * must get the same logits with no missing or unexpected keys.
 */
class JavaFilesForPythonTest {
    private static final Path OUT = Path.of("target", "java-written");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Path BASE = GoldenFiles.BASE;
    /**
     * A PiSSA adapter trained on the base whose weights PiSSA replaced by W_res, written converted to
     * a plain LoRA adapter for the original base (as PEFT's {@code path_initial_model_for_weight_conversion}
     * does); Python loads it onto the untouched base and must get the trained PiSSA model's logits.
     */
    private static final String PISSA_CONVERTED = "lora-pissa-converted";

    private static Map<String, PeftConfig> adapters() {
        String base = "tiny-bert";
        Map<String, PeftConfig> configs = new LinkedHashMap<>();
        configs.put("lora", LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value")
                .optBaseModelNameOrPath(base).build());
        configs.put("lora-rslora-all-linear", LoraConfig.builder().optR(2).optLoraAlpha(6).optUseRslora(true).setTargetAllLinear()
                .optBaseModelNameOrPath(base).build());
        configs.put("prompt-random", PromptTuningConfig.builder().setNumVirtualTokens(4).optBaseModelNameOrPath(base).build());
        configs.put("prompt-text", PromptTuningConfig.builder().setNumVirtualTokens(9).optPromptTuningInitText("is this spam or ham")
                .optBaseModelNameOrPath(base).build());
        configs.put("prefix", PrefixTuningConfig.builder().setNumVirtualTokens(3).optBaseModelNameOrPath(base).build());
        configs.put("prefix-projection", PrefixTuningConfig.builder().setNumVirtualTokens(3).optPrefixProjection(true)
                .optEncoderHiddenSize(12).optBaseModelNameOrPath(base).build());
        configs.put("ia3", Ia3Config.builder().setDefaultTargetModules("bert").optBaseModelNameOrPath(base).build());
        configs.put("lora-dora", LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value")
                .optUseDora(true).optBaseModelNameOrPath(base).build());
        configs.put(PISSA_CONVERTED, LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query", "value")
                .optInitLoraWeights(LoraInit.PISSA).optBaseModelNameOrPath(base).build());
        return configs;
    }

    /** A few AdamW steps on the golden inputs with made-up labels, so that every trained weight moves. */
    static void train(Model model, PeftModel peft, NDList inputs) {
        DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(0.05f)).build());
        try (Trainer trainer = peft != null ? peft.newTrainer(model, config) : model.newTrainer(config)) {
            for (int step = 0; step < 5; step++) {
                try (NDManager batch = model.getNDManager().newSubManager();
                        GradientCollector collector = trainer.newGradientCollector()) {
                    NDArray labels = batch.create(new float[] {2, 0, 1});
                    collector.backward(trainer.getLoss().evaluate(new NDList(labels), trainer.forward(inputs)));
                }
                trainer.step();
            }
        }
    }

    @Test
    void adaptersAndExportsHaveThePythonLayoutAndLoadInPythonWithTheSameLogits() throws Exception {
        Engine.getInstance().setRandomSeed(7);
        Files.createDirectories(OUT);
        ObjectNode expected = JSON.createObjectNode();
        for (Map.Entry<String, PeftConfig> e : adapters().entrySet()) {
            try (Model model = Model.newInstance(e.getKey());
                    BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(BASE.resolve("tokenizer.json"), 32)) {
                BertSequenceClassifier classifier = ClassifierDirectory.load(BASE, model.getNDManager()).classifier();
                model.setBlock(classifier);
                PeftModel peft = Peft.apply(classifier, e.getValue(), PeftModel.DEFAULT_ADAPTER, tokenizer);
                NDList inputs = GoldenFiles.inputs(model.getNDManager());
                AdapterCheckpoint initial = e.getKey().equals(PISSA_CONVERTED) ? peft.checkpoint() : null;
                train(model, peft, inputs);
                Path dir = OUT.resolve(e.getKey());
                if (initial != null) {
                    LoraDecompositionInit.convertToLora(peft.checkpoint(), initial).save(dir);
                } else {
                    peft.saveAdapter(dir);
                }
                expected.set(e.getKey(), JSON.valueToTree(GoldenFiles.logits(classifier, inputs)));
                checkLayout(e.getKey(), AdapterCheckpoint.load(dir));
            }
        }
        for (ClassifierHead head : ClassifierHead.values()) {
            String name = "export-" + head.recordedName();
            try (Model model = Model.newInstance(name)) {
                ClassifierDirectory.Loaded base = ClassifierDirectory.load(BASE, model.getNDManager());
                BertSequenceClassifier classifier = new BertSequenceClassifier(base.classifier().bert(), 3, head)
                        .initializeHead(model.getNDManager());
                model.setBlock(classifier);
                PeftModel peft = Peft.apply(classifier, LoraConfig.builder().optR(4).optLoraAlpha(8)
                        .setTargetModules("query", "value").build());
                NDList inputs = GoldenFiles.inputs(model.getNDManager());
                train(model, peft, inputs);
                float[] logits = GoldenFiles.logits(classifier, inputs);
                Map<String, byte[]> tokenizer = new LinkedHashMap<>();
                for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
                    tokenizer.put(file, Files.readAllBytes(BASE.resolve(file)));
                }
                ClassifierDirectory.save((BertSequenceClassifier) peft.mergeAndUnload(), base.labels(), OUT.resolve(name),
                        tokenizer);
                expected.set(name, JSON.valueToTree(logits));
            }
        }
        Files.writeString(OUT.resolve("expected_logits.json"), JSON.writeValueAsString(expected), StandardCharsets.UTF_8);
        String python = System.getProperty("peft4j.python", "");
        if (!python.isBlank()) {
            String output = runPython(python);
            System.out.print(output);
            assertThat(output).contains("all " + expected.size() + " files load in Python with the same logits");
        }
    }

    /** What PEFT needs in each file: the task type, the head under the method's key prefix, the names. */
    private static void checkLayout(String name, AdapterCheckpoint saved) {
        PeftConfig config = saved.config();
        assertThat(config.taskType()).as(name).isEqualTo(org.peft4j.api.TaskType.SEQ_CLS);
        assertThat(config.modulesToSave()).as(name).contains("classifier");
        String prefix = org.peft4j.api.PeftMethods.forConfig(config).isPromptLearning() ? "base_model." : "base_model.model.";
        assertThat(saved.tensors()).as(name).containsKeys(prefix + "classifier.weight", prefix + "classifier.bias");
        assertThat(saved.tensors().keySet()).as(name).allMatch(k -> k.equals("prompt_embeddings") || k.startsWith(prefix));
        assertThat(saved.metadata()).as(name).containsEntry("peft4j_head", "pooler").containsEntry("format", "pt");
        if (config instanceof PromptTuningConfig prompt && prompt.promptTuningInitText() != null) {
            assertThat(prompt.tokenizerNameOrPath()).as(name).isEqualTo("tiny-bert");
        }
        if (name.equals(PISSA_CONVERTED)) {
            // the trained [B, -B0][A; A0] of rank 2r, for the original base; nothing left to decompose
            LoraConfig lora = (LoraConfig) config;
            assertThat(lora.r()).as(name).isEqualTo(8);
            assertThat(lora.initLoraWeights()).as(name).isEqualTo(LoraInit.KAIMING_UNIFORM);
            assertThat(saved.tensors().get("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight")
                    .shape()).as(name).containsExactly(8, 16);
        }
        if (config instanceof LoraConfig lora && lora.useDora()) {
            // PEFT's key for DoRA's magnitude has no ".weight"; 1-D, one value per output row
            assertThat(saved.tensors().get("base_model.model.bert.encoder.layer.1.attention.self.value.lora_magnitude_vector")
                    .shape()).as(name).containsExactly(16);
        }
        if (config instanceof PrefixTuningConfig prefixConfig) {
            assertThat(prefixConfig.encoderHiddenSize()).as(name).isNotNull();
            assertThat(saved.tensors().get("prompt_embeddings").shape()).as(name).containsExactly(3, 2 * 2 * 16);
        }
    }

    private static String runPython(String python) throws Exception {
        return runPython(python, GoldenFiles.DIR, OUT);
    }

    /** Runs check_java_files.py on the files in {@code javaDir} against the golden files in {@code goldenDir}. */
    static String runPython(String python, Path goldenDir, Path javaDir) throws Exception {
        Process p = new ProcessBuilder(python, Path.of("src", "test", "python", "check_java_files.py").toString(),
                goldenDir.toString(), javaDir.toString()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
        assertThat(p.exitValue()).as("check_java_files.py:%n%s", output).isZero();
        return output;
    }
}
