package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.ClassifierDirectory;

/**
 * Files peft4j writes for the families beyond BERT, for Python to load: on the golden tiny RoBERTa
 * and DistilBERT (FamiliesGoldenTest), LoRA and prompt-tuning adapters (and prefix-tuning on
 * RoBERTa) trained a few steps, and a merged LoRA export, each with peft4j's logits on the golden
 * inputs. With {@code -Dpeft4j.python=PYTHON}, {@code check_java_files.py} loads each in PEFT and
 * transformers and must get the same logits with no missing or unexpected keys.
 */
class FamiliesJavaFilesForPythonTest {
    private static final Path GOLDEN = Path.of("src", "test", "resources", "golden", "families");
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private static NDList inputs(NDManager manager, JsonNode golden) {
        NDArray[] arrays = new NDArray[2];
        String[] keys = {"input_ids", "attention_mask"};
        for (int i = 0; i < 2; i++) {
            JsonNode rows = golden.at("/inputs/" + keys[i]);
            int cols = rows.get(0).size();
            long[] flat = new long[rows.size() * cols];
            for (int r = 0; r < rows.size(); r++) {
                for (int c = 0; c < cols; c++) {
                    flat[r * cols + c] = rows.get(r).get(c).asLong();
                }
            }
            arrays[i] = manager.create(flat, new Shape(rows.size(), cols));
        }
        return new NDList(arrays);
    }

    @ParameterizedTest
    @CsvSource({"roberta, query, value", "distilbert, q_lin, v_lin"})
    void adaptersAndExportsLoadInPythonWithTheSameLogits(String family, String query, String value) throws Exception {
        Engine.getInstance().setRandomSeed(7);
        Path goldenDir = GOLDEN.resolve(family + "-seq-cls");
        Path base = goldenDir.resolve("tiny-" + family);
        JsonNode golden = new ObjectMapper().readTree(goldenDir.resolve("golden.json").toFile());
        Path out = Path.of("target", "java-written-" + family);
        Map<String, PeftConfig> configs = new LinkedHashMap<>();
        configs.put("lora", LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules(query, value)
                .optBaseModelNameOrPath("tiny-" + family).build());
        configs.put("prompt", PromptTuningConfig.builder().setNumVirtualTokens(4).optBaseModelNameOrPath("tiny-" + family)
                .build());
        if (family.equals("roberta")) {
            configs.put("prefix", PrefixTuningConfig.builder().setNumVirtualTokens(3)
                    .optBaseModelNameOrPath("tiny-" + family).build());
        }
        // peft4j train's default lora_target (on DistilBERT, modules_to_save names pre_classifier, which keeps
        // PEFT's all-linear off it: see the family)
        configs.put("lora-all-linear", LoraConfig.builder().optR(2).setTargetAllLinear()
                .optBaseModelNameOrPath("tiny-" + family).build());
        configs.put("export-pooler", configs.get("lora"));
        ObjectNode expected = JSON.createObjectNode();
        for (Map.Entry<String, PeftConfig> e : configs.entrySet()) {
            try (Model model = Model.newInstance(e.getKey())) {
                ClassifierDirectory.LoadedClassifier loaded = ClassifierDirectory.read(base, model.getNDManager());
                TextClassifier classifier = loaded.classifier();
                model.setBlock(classifier);
                PeftModel peft = Peft.apply(classifier, e.getValue());
                NDList inputs = inputs(model.getNDManager(), golden);
                JavaFilesForPythonTest.train(model, peft, inputs);
                float[] logits = GoldenFiles.logits(classifier, inputs);
                Path dir = out.resolve(e.getKey());
                if (e.getKey().startsWith("export-")) {
                    Map<String, byte[]> tokenizer = new LinkedHashMap<>();
                    for (String file : List.of("tokenizer.json", "tokenizer_config.json")) {
                        tokenizer.put(file, Files.readAllBytes(base.resolve(file)));
                    }
                    ClassifierDirectory.save((TextClassifier) peft.mergeAndUnload(), loaded.labels(), dir, tokenizer);
                } else {
                    peft.saveAdapter(dir);
                    AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
                    assertThat(saved.config().modulesToSave()).containsAll(classifier.headPaths());
                }
                expected.set(e.getKey(), JSON.valueToTree(logits));
            }
        }
        Files.writeString(out.resolve("expected_logits.json"), JSON.writeValueAsString(expected), StandardCharsets.UTF_8);
        String python = System.getProperty("peft4j.python", "");
        if (!python.isBlank()) {
            String output = JavaFilesForPythonTest.runPython(python, goldenDir, out);
            System.out.print(output);
            assertThat(output).contains("all " + expected.size() + " files load in Python with the same logits");
        }
    }
}
