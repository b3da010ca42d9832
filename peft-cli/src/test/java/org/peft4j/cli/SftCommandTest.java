package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.cli.Peft4jCommandTest.Result;

/**
 * {@code stage: sft} end to end on a tiny random LLaMA ({@link TinyDecoder}): LoRA memorises four
 * instruction pairs (loss below 0.1), {@code predict} then generates every answer (BLEU-4 100) and
 * writes LLaMA-Factory's files, the base's weights are untouched; PEFT's default targets, prefix
 * tuning and freeze tuning write what they promise; bad input fails with its row or key.
 */
class SftCommandTest {
    @TempDir
    static Path dir;
    static Path base;
    static Path data;
    static byte[] baseWeights;
    static final ObjectMapper JSON = new ObjectMapper();
    static final List<String[]> PAIRS = List.of(new String[] {"what is the capital of france", "paris"},
            new String[] {"what is the capital of italy", "rome"},
            new String[] {"what is the capital of spain", "madrid city"},
            new String[] {"what is the capital of japan", "tokyo"});

    @BeforeAll
    static void writeModelAndData() throws Exception {
        base = TinyDecoder.write(dir.resolve("tiny-llama"), 5);
        baseWeights = Files.readAllBytes(base.resolve("model.safetensors"));
        data = TinyDecoder.alpaca(dir.resolve("capitals.json"), PAIRS);
    }

    /** A config of the common settings, each {@code key: value} of {@code extra} added or replacing one. */
    private static Path config(String name, String... extra) throws Exception {
        Map<String, String> keys = new LinkedHashMap<>();
        for (String line : List.of("stage: sft", "model_name_or_path: " + base, "dataset: " + data, "output_dir: "
                + dir.resolve(name), "val_size: 0", "per_device_train_batch_size: 4", "plot_loss: false",
                "warmup_ratio: 0", "lr_scheduler_type: constant", "cutoff_len: 32")) {
            keys.put(line.substring(0, line.indexOf(':')), line);
        }
        for (String line : extra) {
            keys.put(line.substring(0, line.indexOf(':')), line);
        }
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, String.join("\n", keys.values()) + "\n");
        return file;
    }

    @Test
    void loraMemorisesThePairsAndPredictGeneratesEveryAnswer() throws Exception {
        Result train = Peft4jCommandTest.run("train", config("lora", "finetuning_type: lora", "lora_target: all",
                "num_train_epochs: 40", "learning_rate: 0.005").toString());
        assertThat(train.status()).as(train.err()).isZero();
        Path out = dir.resolve("lora");
        JsonNode adapter = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertThat(adapter.get("task_type").asText()).isEqualTo("CAUSAL_LM");
        assertThat(adapter.get("target_modules").asText()).isEqualTo("all-linear");
        JsonNode results = JSON.readTree(out.resolve("all_results.json").toFile());
        System.out.println("sft lora: " + results);
        assertThat(results.get("train_loss").asDouble()).isLessThan(0.1);
        assertThat(out.resolve("trainer_log.jsonl")).exists();
        assertThat(Files.readAllBytes(base.resolve("model.safetensors"))).isEqualTo(baseWeights);

        Result predict = Peft4jCommandTest.run("predict", out.toString(), "--input", data.toString());
        assertThat(predict.status()).as(predict.err()).isZero();
        List<String> lines = Files.readAllLines(out.resolve(SftPredictions.FILE));
        assertThat(lines).hasSize(PAIRS.size());
        for (int i = 0; i < PAIRS.size(); i++) {
            JsonNode line = JSON.readTree(lines.get(i));
            assertThat(line.get("prompt").asText()).isEqualTo("<user> " + PAIRS.get(i)[0] + " </s> <assistant>");
            assertThat(line.get("label").asText()).isEqualTo(PAIRS.get(i)[1]);
            assertThat(line.get("predict").asText()).as(line.toString()).isEqualTo(PAIRS.get(i)[1]);
        }
        JsonNode scores = JSON.readTree(out.resolve(SftPredictions.RESULTS).toFile());
        assertThat(scores.get("predict_bleu-4").asDouble()).isEqualTo(100.0);
        assertThat(scores.get("predict_rouge-l").asDouble()).isEqualTo(100.0);
        assertThat(predict.out()).contains("BLEU-4 100.0000");

        // the adapter merged into a Hugging Face directory generates the same answers
        Path merged = dir.resolve("merged");
        Result export = Peft4jCommandTest.run("export", out.toString(), "--to", merged.toString());
        assertThat(export.status()).as(export.err()).isZero();
        assertThat(merged.resolve("tokenizer.json")).exists();
        assertThat(merged.resolve("generation_config.json")).exists();
        Path mergedPredictions = dir.resolve("merged-predictions");
        Files.createDirectories(mergedPredictions);
        Result again = Peft4jCommandTest.run("predict", merged.toString(), "--input", data.toString(), "--output",
                mergedPredictions.toString());
        assertThat(again.status()).as(again.err()).isZero();
        assertThat(Files.readAllLines(mergedPredictions.resolve(SftPredictions.FILE))).isEqualTo(lines);
        // chat with the adapter: the answers stream, /clear forgets, /exit ends
        ByteArrayOutputStream chatOut = new ByteArrayOutputStream();
        String typed = PAIRS.get(0)[0] + "\n" + ChatCommand.CLEAR + "\n" + PAIRS.get(1)[0] + "\n" + ChatCommand.EXIT + "\n";
        int chat = Peft4j.run(new String[] {"chat", "--model", base.toString(), "--adapter", out.toString()},
                new Peft4j.Console(new PrintStream(chatOut, true, StandardCharsets.UTF_8), System.err,
                        new ByteArrayInputStream(typed.getBytes(StandardCharsets.UTF_8))));
        assertThat(chat).isZero();
        assertThat(chatOut.toString(StandardCharsets.UTF_8)).contains("Assistant: paris\n").contains("History has been removed.")
                .contains("Assistant: rome\n");
        Result prefixExport = Peft4jCommandTest.run("export", out.toString(), "--to", merged.toString(), "--format", "onnx");
        assertThat(prefixExport.status()).isEqualTo(2);
        assertThat(prefixExport.err()).contains("a language model's run exports as a Hugging Face directory");
    }

    @Test
    void defaultTargetsPrefixAndFreezeWriteWhatTheyPromise() throws Exception {
        Result lora = Peft4jCommandTest.run("train", config("default-targets", "num_train_epochs: 1").toString());
        assertThat(lora.status()).as(lora.err()).isZero();
        List<String> targets = new ArrayList<>();
        JSON.readTree(dir.resolve("default-targets/adapter_config.json").toFile()).get("target_modules")
                .forEach(t -> targets.add(t.asText()));
        // PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING["llama"] (peft/utils/constants.py line 85)
        assertThat(targets).containsExactlyInAnyOrder("q_proj", "v_proj");

        // sharegpt data in a named template
        Path sharegpt = dir.resolve("capitals-sharegpt.jsonl");
        StringBuilder jsonl = new StringBuilder();
        for (String[] pair : PAIRS) {
            jsonl.append("{\"conversations\": [{\"from\": \"human\", \"value\": \"").append(pair[0])
                    .append("\"}, {\"from\": \"gpt\", \"value\": \"").append(pair[1]).append("\"}]}\n");
        }
        Files.writeString(sharegpt, jsonl);
        Result prefix = Peft4jCommandTest.run("train", config("prefix", "finetuning_type: prefix", "num_virtual_tokens: 4",
                "num_train_epochs: 1", "dataset: " + sharegpt, "formatting: sharegpt", "template: default").toString());
        assertThat(prefix.status()).as(prefix.err()).isZero();
        JsonNode prefixConfig = JSON.readTree(dir.resolve("prefix/adapter_config.json").toFile());
        assertThat(prefixConfig.get("peft_type").asText()).isEqualTo("PREFIX_TUNING");
        assertThat(prefixConfig.get("task_type").asText()).isEqualTo("CAUSAL_LM");

        Result freeze = Peft4jCommandTest.run("train", config("freeze", "finetuning_type: freeze",
                "freeze_trainable_layers: 1", "num_train_epochs: 1").toString());
        assertThat(freeze.status()).as(freeze.err()).isZero();
        assertThat(freeze.out()).contains("trainable parameters: 30,848");
        assertThat(dir.resolve("freeze/model.safetensors")).exists();
        assertThat(dir.resolve("freeze/tokenizer_config.json")).exists();
        assertThat(Files.readAllBytes(base.resolve("model.safetensors"))).isEqualTo(baseWeights);
    }

    @Test
    void badInputFailsWithItsRowOrKey() throws Exception {
        Path noAnswer = dir.resolve("no-answer.json");
        Files.writeString(noAnswer, "[{\"instruction\": \"hi\", \"output\": \"hello\"}, {\"instruction\": \"hi\"}]");
        Result missing = Peft4jCommandTest.run("train", config("bad1", "dataset: " + noAnswer).toString());
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains(noAnswer.toString()).contains("row 2");

        Result template = Peft4jCommandTest.run("train", config("bad2", "template: vicuna").toString());
        assertThat(template.status()).isEqualTo(2);
        assertThat(template.err()).contains("template").contains("known: alpaca, chatml, default, empty, llama3, qwen");

        Path shortCutoff = config("bad4", "cutoff_len: 4");
        Result cut = Peft4jCommandTest.run("train", shortCutoff.toString());
        assertThat(cut.status()).isEqualTo(2);
        assertThat(cut.err()).containsPattern("capitals.json row [1-4]: the first prompt has 9 tokens, which leaves no room"
                + " for its answer within cutoff_len 4");

        Path noTokenizer = dir.resolve("no-tokenizer");
        Files.createDirectories(noTokenizer);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer_config.json")) {
            Files.copy(base.resolve(f), noTokenizer.resolve(f));
        }
        Result tokenizer = Peft4jCommandTest.run("train", config("bad5", "model_name_or_path: " + noTokenizer).toString());
        assertThat(tokenizer.status()).isEqualTo(2);
        assertThat(tokenizer.err()).contains("no tokenizer.json");

        Path raising = dir.resolve("raising-template");
        Files.createDirectories(raising);
        for (String f : List.of("config.json", "model.safetensors", "tokenizer.json")) {
            Files.copy(base.resolve(f), raising.resolve(f));
        }
        Files.writeString(raising.resolve("tokenizer_config.json"),
                "{\"chat_template\": \"{{ raise_exception('only one turn, please') }}\"}");
        Result failing = Peft4jCommandTest.run("train", config("bad7", "model_name_or_path: " + raising).toString());
        assertThat(failing.status()).isEqualTo(2);
        assertThat(failing.err()).containsPattern("capitals.json row [1-4]: the chat template failed: the template raised:"
                + " only one turn, please");

        Result stage = Peft4jCommandTest.run("train", config("bad6", "stage: dpo").toString());
        assertThat(stage.status()).isEqualTo(2);
        assertThat(stage.err()).contains("stage must be sft");
    }
}
