package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderDirectory;
import org.peft4j.djl.models.DecoderFamilies;
import org.peft4j.djl.sft.CausalLmTask;
import org.peft4j.djl.sft.SftExample;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;

/**
 * Causal-LM files peft4j writes, for Python to load: LoRA, prompt- and prefix-tuning adapters
 * trained a few steps of supervised fine-tuning on the golden tiny LLaMA (grouped-query
 * attention), the same three on the golden tiny GPT-2 (LoRA on its Conv1D layers), and both LoRA
 * models merged and exported as complete Hugging Face directories, each with peft4j's logits. With
 * {@code -Dpeft4j.python=PYTHON} (see {@link JavaFilesForPythonTest}),
 * {@code src/test/python/check_java_decoder_files.py} loads each with Python's PEFT and transformers
 * and must get the same logits.
 */
class DecoderFilesForPythonTest {
    private static final Path GOLDEN = Path.of("src", "test", "resources", "golden", "causal-lm");
    private static final Path MODEL = GOLDEN.resolve("llama").resolve("model");
    private static final Path GPT2 = GOLDEN.resolve("gpt2").resolve("model");
    private static final Path OUT = Path.of("target", "java-written-decoders");
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void adaptersAndAnExportLoadInPythonWithTheSameLogits() throws Exception {
        JsonNode golden = JSON.readTree(GOLDEN.resolve("golden.json").toFile());
        Files.createDirectories(OUT);
        Files.writeString(OUT.resolve("inputs.json"), JSON.writeValueAsString(Map.of("input_ids", golden.get("input_ids"),
                "attention_mask", golden.get("attention_mask"), "position_ids", golden.get("position_ids"))));
        Map<String, PeftConfig> configs = new LinkedHashMap<>();
        configs.put("lora", LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("q_proj", "v_proj").build());
        configs.put("prompt", PromptTuningConfig.builder().setNumVirtualTokens(4).build());
        configs.put("prefix", PrefixTuningConfig.builder().setNumVirtualTokens(3).build());
        // GPT-2's Conv1D layers: the export must write their weights back as [in, out]
        configs.put("lora-gpt2", LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("c_attn", "c_fc").build());
        // GPT-2's virtual tokens: a prompt with learned positions 0..n-1, prefixes of n_embd per block
        configs.put("prompt-gpt2", PromptTuningConfig.builder().setNumVirtualTokens(4).build());
        configs.put("prefix-gpt2", PrefixTuningConfig.builder().setNumVirtualTokens(3).build());
        ObjectNode expected = JSON.createObjectNode();
        ObjectNode bases = JSON.createObjectNode();
        for (Map.Entry<String, PeftConfig> e : configs.entrySet()) {
            Engine.getInstance().setRandomSeed(5);
            Path base = e.getKey().endsWith("gpt2") ? GPT2 : MODEL;
            bases.put(e.getKey(), base.toAbsolutePath().toString());
            try (Model model = Model.newInstance(e.getKey())) {
                CausalLanguageModel llama = DecoderFamilies.fromHuggingFace(base, model.getNDManager());
                model.setBlock(llama);
                PeftModel peft = Peft.apply(llama, e.getValue());
                new FineTuning<>(model, peft, new CausalLmTask(0)).fit(examples(golden), List.of(),
                        FineTuning.Settings.builder().setEpochs(3).setBatchSize(2).setLearningRate(0.05f)
                                .optScheduler(LearningRateSchedule.Kind.CONSTANT).build(), r -> { });
                Path dir = OUT.resolve(e.getKey());
                peft.saveAdapter(dir);
                AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
                assertThat(saved.config().taskType()).isEqualTo(TaskType.CAUSAL_LM);
                boolean promptLearning = !e.getKey().startsWith("lora");
                float[] logits = logits(llama, golden, model.getNDManager(), !promptLearning);
                expected.set(e.getKey(), JSON.valueToTree(rows(logits, golden)));
                if (!promptLearning) {
                    String export = e.getKey().replace("lora", "export");
                    assertThatThrownBy(() -> DecoderDirectory.save(llama, base, OUT.resolve(export)))
                            .hasMessageContaining("merge and unload it first");
                    peft.mergeAndUnload();
                    float[] merged = logits(llama, golden, model.getNDManager(), true);
                    for (int i = 0; i < merged.length; i++) {
                        assertThat(Math.abs(merged[i] - logits[i])).isLessThan(1e-5f);
                    }
                    DecoderDirectory.save(llama, base, OUT.resolve(export));
                    expected.set(export, JSON.valueToTree(rows(merged, golden)));
                    bases.put(export, base.toAbsolutePath().toString());
                }
            }
        }
        assertThat(OUT.resolve("export").resolve("tokenizer.json")).exists();
        assertThat(AdapterCheckpoint.load(OUT.resolve("lora")).tensors())
                .containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
        Files.writeString(OUT.resolve("expected_logits.json"), JSON.writeValueAsString(expected), StandardCharsets.UTF_8);
        Files.writeString(OUT.resolve("bases.json"), JSON.writeValueAsString(bases), StandardCharsets.UTF_8);
        String python = System.getProperty("peft4j.python", "");
        if (!python.isBlank()) {
            Process p = new ProcessBuilder(python, Path.of("src", "test", "python", "check_java_decoder_files.py").toString(),
                    OUT.toString()).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(10, TimeUnit.MINUTES)).isTrue();
            System.out.print(output);
            assertThat(p.exitValue()).as("check_java_decoder_files.py:%n%s", output).isZero();
            assertThat(output).contains("all 8 files load in Python with the same logits");
        }
    }

    /** The golden sequences as examples that learn every token after the first. */
    private static List<SftExample> examples(JsonNode golden) {
        List<SftExample> out = new ArrayList<>();
        for (JsonNode row : golden.at("/families/llama/greedy").isArray() ? List.of(golden.at("/families/llama/greedy"),
                golden.get("input_ids").get(0)) : List.<JsonNode>of()) {
            long[] ids = new long[row.size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = row.get(i).asLong();
            }
            long[] labels = ids.clone();
            labels[0] = SftExample.IGNORE;
            out.add(new SftExample(ids, labels));
        }
        return out;
    }

    private static float[] logits(CausalLanguageModel model, JsonNode golden, NDManager manager, boolean positions) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray out = model.logits(new ParameterStore(scope, false), matrix(scope, golden.get("input_ids")),
                    matrix(scope, golden.get("attention_mask")), positions ? matrix(scope, golden.get("position_ids")) : null,
                    null, false);
            return out.toFloatArray();
        }
    }

    /** [B][T][V] from the flat logits. */
    private static float[][][] rows(float[] flat, JsonNode golden) {
        int batch = golden.get("input_ids").size();
        int length = golden.get("input_ids").get(0).size();
        int vocab = flat.length / batch / length;
        float[][][] out = new float[batch][length][vocab];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < length; t++) {
                System.arraycopy(flat, (b * length + t) * vocab, out[b][t], 0, vocab);
            }
        }
        return out;
    }

    private static NDArray matrix(NDManager manager, JsonNode rows) {
        int cols = rows.get(0).size();
        long[] flat = new long[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < cols; c++) {
                flat[r * cols + c] = rows.get(r).get(c).asLong();
            }
        }
        return manager.create(flat, new Shape(rows.size(), cols));
    }
}
