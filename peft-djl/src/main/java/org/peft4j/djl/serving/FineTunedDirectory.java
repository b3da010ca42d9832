package org.peft4j.djl.serving;

import ai.djl.translate.ArgumentsUtil;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * What a fine-tuned directory holds, read from its small files (never its weights): an adapter
 * ({@code adapter_config.json}) with the base it goes on, or a whole model ({@code config.json},
 * as {@code peft4j export} and transformers' {@code save_pretrained} write it); the task, the label
 * names and the token limit. The run record {@value #RUN_RECORD} that {@code peft4j train} writes
 * gives the base ({@code model_name_or_path}), the labels, {@code cutoff_len} and the adapters merged
 * before training ({@code merged_adapters}); the {@code Criteria} arguments {@value #BASE},
 * {@value #LABELS} (comma-separated) and {@value #MAX_LENGTH} override them or stand in for them,
 * and {@value #MERGE} folds the adapter into the weights for inference at the base model's cost.
 *
 * @param path the directory
 * @param taskType the task: the adapter's {@code task_type}, or from the model's architecture
 * @param holdsAdapter whether the directory holds an adapter rather than a whole model
 * @param base the model the adapter goes on; for a whole model, the directory itself
 * @param labels the label names in output order (empty where the task has none)
 * @param maxLength the token limit of the tokenizer
 * @param mergedAdapters adapter directories merged into the base, in order, before the adapter is loaded
 */
public record FineTunedDirectory(Path path, TaskType taskType, boolean holdsAdapter, PretrainedEncoder base,
        List<String> labels, int maxLength, List<Path> mergedAdapters) {
    /** The run record {@code peft4j train} writes beside the adapter. */
    public static final String RUN_RECORD = "peft4j_run.json";
    /** The argument naming the base model (a model directory, an ONNX file or the built-in model's name). */
    public static final String BASE = "base";
    /** The argument giving the label names, comma-separated, in output order. */
    public static final String LABELS = "labels";
    /** The argument giving the token limit. */
    public static final String MAX_LENGTH = "maxLength";
    /** The argument that folds an adapter on the weights (LoRA, IA3) into them when the model loads: {@code true} or {@code false} (the default). */
    public static final String MERGE = "merge";
    private static final int DEFAULT_MAX_LENGTH = 512;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Copies the lists. */
    public FineTunedDirectory {
        labels = List.copyOf(labels);
        mergedAdapters = List.copyOf(mergedAdapters);
    }

    /**
     * Reads what {@code directory} holds.
     *
     * @param arguments the {@code Criteria}'s arguments ({@value #BASE}, {@value #LABELS}, {@value #MAX_LENGTH})
     * @throws IllegalArgumentException if the directory holds neither an adapter nor a model, or its
     *     files do not say enough (the message names the file and the missing key or argument)
     */
    public static FineTunedDirectory read(Path directory, Map<String, ?> arguments) throws IOException {
        Path recordFile = directory.resolve(RUN_RECORD);
        JsonNode run = Files.isRegularFile(recordFile) ? JSON.readTree(recordFile.toFile()) : JSON.createObjectNode();
        List<String> labels = labelsArgument(arguments);
        if (labels.isEmpty()) {
            run.path("labels").forEach(l -> labels.add(l.asText()));
        }
        Integer maxLength = null;
        if (arguments.containsKey(MAX_LENGTH)) {
            maxLength = ArgumentsUtil.intValue(arguments, MAX_LENGTH);
        } else if (run.has("cutoff_len")) {
            maxLength = run.get("cutoff_len").asInt();
        }
        Path adapterConfig = directory.resolve(AdapterCheckpoint.CONFIG_FILE);
        Path modelConfig = directory.resolve(ClassifierDirectory.CONFIG);
        if (Files.isRegularFile(adapterConfig)) {
            JsonNode config = JSON.readTree(adapterConfig.toFile());
            String baseName = ArgumentsUtil.stringValue(arguments, BASE,
                    run.path("model_name_or_path").asText(config.path("base_model_name_or_path").asText("")));
            if (baseName.isBlank()) {
                throw new IllegalArgumentException(adapterConfig + " names no base_model_name_or_path and " + directory
                        + " has no " + RUN_RECORD + "; give the base model with the argument \"" + BASE + "\"");
            }
            if (!config.hasNonNull("task_type")) {
                throw new IllegalArgumentException(adapterConfig + " has no task_type; the task cannot be told");
            }
            List<Path> merged = new ArrayList<>();
            run.path("merged_adapters").forEach(p -> merged.add(Path.of(p.asText())));
            return new FineTunedDirectory(directory, taskType(config.get("task_type").asText(), adapterConfig), true,
                    resolveBase(baseName, recordFile), labels, maxLength != null ? maxLength : DEFAULT_MAX_LENGTH, merged);
        }
        if (Files.isRegularFile(modelConfig)) {
            JsonNode config = JSON.readTree(modelConfig.toFile());
            if (labels.isEmpty()) {
                labels.addAll(ClassifierDirectory.labels(config));
            }
            String architecture = config.path("architectures").path(0).asText("");
            if (!Files.isRegularFile(directory.resolve("tokenizer.json"))) {
                throw new IllegalArgumentException(directory + " has no tokenizer.json beside its model");
            }
            int limit = maxLength != null ? maxLength : config.path("max_position_embeddings").asInt(DEFAULT_MAX_LENGTH);
            return new FineTunedDirectory(directory, taskOfArchitecture(architecture, modelConfig), false,
                    PretrainedEncoder.huggingFace(directory), labels, limit, List.of());
        }
        throw new IllegalArgumentException(directory + " holds no adapter (" + AdapterCheckpoint.CONFIG_FILE
                + ") and no model (" + ClassifierDirectory.CONFIG + "); expected a directory that peft4j train or"
                + " peft4j export wrote");
    }

    private static List<String> labelsArgument(Map<String, ?> arguments) {
        Object value = arguments.get(LABELS);
        List<String> labels = new ArrayList<>();
        if (value instanceof List<?> list) {
            list.forEach(v -> labels.add(String.valueOf(v)));
        } else if (value != null) {
            labels.addAll(Arrays.stream(value.toString().split(",")).map(String::trim).toList());
        }
        return labels;
    }

    private static TaskType taskType(String name, Path source) {
        try {
            return TaskType.valueOf(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": unknown task_type \"" + name + "\"; known: "
                    + Arrays.toString(TaskType.values()), e);
        }
    }

    /**
     * The task of a transformers architecture such as {@code BertForSequenceClassification}; language
     * models ({@code *ForCausalLM}, {@code GPT2LMHeadModel}) are told apart before the bare encoders
     * ({@code *Model}), whose names they share the ending of.
     */
    private static TaskType taskOfArchitecture(String architecture, Path source) {
        if (architecture.endsWith("ForCausalLM") || architecture.endsWith("LMHeadModel")) {
            return TaskType.CAUSAL_LM;
        } else if (architecture.endsWith("ForSequenceClassification")) {
            return TaskType.SEQ_CLS;
        } else if (architecture.endsWith("ForTokenClassification")) {
            return TaskType.TOKEN_CLS;
        } else if (architecture.endsWith("Model")) {
            return TaskType.FEATURE_EXTRACTION;
        }
        throw new IllegalArgumentException(source + ": architectures[0] is \"" + architecture + "\"; served are *Model,"
                + " *ForSequenceClassification, *ForTokenClassification, *ForCausalLM and *LMHeadModel");
    }

    /**
     * The base model {@code name} names, as {@code peft4j train} resolves {@code model_name_or_path}
     * ({@link PretrainedEncoder#fromNameOrPath}); a failure says where the name came from.
     */
    private static PretrainedEncoder resolveBase(String name, Path record) {
        try {
            return PretrainedEncoder.fromNameOrPath(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the base model (from " + record.getFileName() + ", the adapter's"
                    + " base_model_name_or_path or the argument \"" + BASE + "\"): " + e.getMessage(), e);
        }
    }
}
