package org.peft4j.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;

/**
 * What {@code peft4j train} records in the output directory as {@value #FILE}, so that
 * {@code eval}, {@code predict} and {@code export} can load the model again and read data as
 * training did. Bound by Jackson; keys a newer version adds are ignored.
 *
 * @param modelNameOrPath {@code model_name_or_path}: the base model
 * @param finetuningType {@code finetuning_type}: lora, prefix and prompt leave an adapter; full
 *     and freeze (and an export) a whole model
 * @param cutoffLen {@code cutoff_len}: the token limit
 * @param textColumn {@code text_column}
 * @param labelColumn {@code label_column}
 * @param splitColumn {@code split_column}
 * @param dataset {@code dataset}: the training file, as an absolute path; null for a directory
 *     peft4j did not train
 * @param labels {@code labels}: the class names in output order
 * @param seed {@code seed}: the seed of the run's samples (42 in records that lack it)
 * @param mergedAdapters {@code merged_adapters}: the adapter directories (absolute paths) merged
 *     into the base before the run's adapter trained ({@code adapter_name_or_path}), which loading
 *     merges again in the same order; empty for most runs
 * @param stage {@code stage}: {@code sft} for a causal language model's run (which has no labels),
 *     null for the encoder tasks
 * @param template {@code template}: the named chat template of an sft run, null for the model's own
 * @param formatting {@code formatting}: the dataset format of an sft run (alpaca or sharegpt)
 * @param taskType {@code task_type}: {@code SEQ_CLS} (in records that lack it), {@code TOKEN_CLS}
 *     or {@code FEATURE_EXTRACTION}, whose runs have no labels
 * @param positiveColumn {@code positive_column}: the positives' column of a FEATURE_EXTRACTION run
 *     without {@code pair_separator}; null for other tasks
 * @param pairSeparator {@code pair_separator}: where a FEATURE_EXTRACTION run splits each text
 *     into its anchor and positive; null if the pairs are two columns, and for other tasks
 */
record RunRecord(
        @JsonProperty("model_name_or_path") String modelNameOrPath,
        @JsonProperty("finetuning_type") String finetuningType,
        @JsonProperty("cutoff_len") Integer cutoffLen,
        @JsonProperty("text_column") String textColumn,
        @JsonProperty("label_column") String labelColumn,
        @JsonProperty("split_column") String splitColumn,
        @JsonProperty("dataset") String dataset,
        @JsonProperty("labels") List<String> labels,
        @JsonProperty("seed") Long seed,
        @JsonProperty("merged_adapters") List<String> mergedAdapters,
        @JsonProperty("stage") String stage,
        @JsonProperty("template") String template,
        @JsonProperty("formatting") String formatting,
        @JsonProperty("task_type") String taskType,
        @JsonProperty("positive_column") @JsonInclude(JsonInclude.Include.NON_NULL) String positiveColumn,
        @JsonProperty("pair_separator") @JsonInclude(JsonInclude.Include.NON_NULL) String pairSeparator) {

    /** The {@code task_type} of sentence-embedding runs. */
    static final String FEATURE_EXTRACTION = "FEATURE_EXTRACTION";

    /** The record's file name in the output directory. */
    static final String FILE = "peft4j_run.json";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Checks what eval, predict and export rely on. */
    RunRecord {
        required("model_name_or_path", modelNameOrPath);
        required("finetuning_type", finetuningType);
        required("cutoff_len", cutoffLen);
        required("text_column", textColumn);
        required("label_column", labelColumn);
        required("split_column", splitColumn);
        seed = seed != null ? seed : 42L;
        taskType = taskType != null ? taskType : "SEQ_CLS";
        if (taskType.equals(FEATURE_EXTRACTION)) {
            labels = labels != null ? labels : List.of();
        }
        required("labels", labels);
        if (!TrainArguments.METHODS.contains(finetuningType)) {
            throw new IllegalArgumentException("finetuning_type must be one of " + TrainArguments.METHODS + ", got \""
                    + finetuningType + "\"");
        }
        if (cutoffLen < 2) {
            throw new IllegalArgumentException("cutoff_len must be at least 2, got " + cutoffLen);
        }
        if (!TrainArguments.TASK_TYPES.contains(taskType)) {
            throw new IllegalArgumentException("task_type must be one of " + TrainArguments.TASK_TYPES + ", got \""
                    + taskType + "\"");
        }
        if (taskType.equals(FEATURE_EXTRACTION) && !labels.isEmpty()) {
            throw new IllegalArgumentException("labels must be empty for task_type " + FEATURE_EXTRACTION + ", got " + labels);
        }
        boolean labelled = stage == null && !taskType.equals(FEATURE_EXTRACTION);
        if (labelled && (labels.size() < 2 || labels.stream().anyMatch(l -> l == null))) {
            throw new IllegalArgumentException("labels must name two classes or more, got " + labels);
        }
        labels = List.copyOf(labels);
        mergedAdapters = List.copyOf(mergedAdapters != null ? mergedAdapters : List.of());
    }

    /**
     * A record of the keys every task has (as records before {@code task_type} was recorded): a
     * {@code SEQ_CLS} run.
     */
    RunRecord(String modelNameOrPath, String finetuningType, Integer cutoffLen, String textColumn, String labelColumn,
            String splitColumn, String dataset, List<String> labels, Long seed, List<String> mergedAdapters) {
        this(modelNameOrPath, finetuningType, cutoffLen, textColumn, labelColumn, splitColumn, dataset, labels, seed,
                mergedAdapters, null, null, null, null, null, null);
    }

    /** Whether this is a sentence-embedding run ({@code task_type: FEATURE_EXTRACTION}), which has no labels. */
    boolean isFeatureExtraction() {
        return taskType.equals(FEATURE_EXTRACTION);
    }

    private static void required(String key, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("missing key \"" + key + "\"");
        }
    }

    /** The record of a run of {@code args} that learned {@code labels}. */
    static RunRecord of(TrainArguments args, List<String> labels) {
        boolean pairs = args.isFeatureExtraction();
        return new RunRecord(args.modelNameOrPath(), args.finetuningType(), args.cutoffLen(), args.textColumn(),
                args.labelColumn(), args.splitColumn(), args.datasetFile().toAbsolutePath().toString(), labels,
                args.seed().longValue(), args.mergedAdapterPaths().stream().map(p -> p.toAbsolutePath().toString())
                        .toList(), args.isSft() ? "sft" : null, args.template(), args.isSft() ? args.formatting() : null,
                args.taskType(), pairs && args.pairSeparator() == null ? args.positiveColumn() : null,
                pairs ? args.pairSeparator() : null);
    }

    /** Whether the run fine-tuned a causal language model ({@code stage: sft}). */
    boolean isSft() {
        return "sft".equals(stage);
    }

    /** This run as a whole model (what {@code export} writes): the same data, method {@code full}. */
    RunRecord asWholeModel() {
        return new RunRecord(modelNameOrPath, "full", cutoffLen, textColumn, labelColumn, splitColumn, dataset, labels,
                seed, List.of(), stage, template, formatting, taskType, positiveColumn, pairSeparator);
    }

    /** Whether the directory holds an adapter rather than a whole model. */
    boolean holdsAdapter() {
        return !TrainArguments.WHOLE_MODEL_METHODS.contains(finetuningType);
    }

    /**
     * The training file.
     *
     * @throws IllegalArgumentException if the run has none (a directory peft4j did not train)
     */
    Path datasetFile() {
        if (dataset == null) {
            throw new IllegalArgumentException("the directory records no training file; give the data with --dataset");
        }
        return Path.of(dataset);
    }

    /**
     * The run in {@code directory}: its record, or for a directory that {@code peft4j train} did not
     * write, what its files and {@code options} say. An adapter (PEFT's {@code adapter_config.json})
     * takes its base from {@code --model} or its {@code base_model_name_or_path}, and its labels
     * from {@code --labels}, the base's {@code id2label}, or transformers' default names
     * ({@code LABEL_0}, ...) for as many classes as its {@code classifier} has outputs (a
     * {@code FEATURE_EXTRACTION} adapter has none, and its pairs are read from the columns
     * {@code --text-column} and {@code positive}); a whole model ({@code config.json}) takes its
     * labels from its {@code id2label}, and a sentence-transformers model ({@code config.json} and
     * {@code modules.json}) is read as an embedding model.
     *
     * @throws IllegalArgumentException if the directory holds none of them, or they do not say enough
     */
    static RunRecord resolve(Path directory, RunOptions options) throws IOException {
        if (!Files.isDirectory(directory) || Files.isRegularFile(directory.resolve(FILE))) {
            return read(directory);
        }
        Path adapterConfig = directory.resolve(AdapterCheckpoint.CONFIG_FILE);
        if (Files.isRegularFile(adapterConfig)) {
            AdapterCheckpoint adapter = AdapterCheckpoint.load(directory);
            PeftConfig config = adapter.config();
            String base = options.model != null ? options.model : config.baseModelNameOrPath();
            if (base == null || base.isBlank()) {
                throw new IllegalArgumentException(adapterConfig + " names no base_model_name_or_path; give the base"
                        + " model with --model");
            }
            if (config.taskType() == TaskType.FEATURE_EXTRACTION) {
                // sentence embeddings: no labels; pairs in the columns --text-column and positive
                return new RunRecord(base, methodOf(config), options.cutoffLen, options.textColumn, options.labelColumn,
                        "split", null, List.of(), null, null, null, null, null, FEATURE_EXTRACTION, "positive", null);
            }
            List<String> labels = options.labels != null ? options.labels : adapterLabels(base, adapter, adapterConfig);
            return new RunRecord(base, methodOf(config), options.cutoffLen, options.textColumn, options.labelColumn,
                    "split", null, labels, null, null, null, null, null, null, null, null);
        }
        Path modelConfig = directory.resolve(ClassifierDirectory.CONFIG);
        if (Files.isRegularFile(modelConfig) && Files.isRegularFile(directory.resolve(EmbeddingPooling.MODULES_FILE))) {
            // a sentence-transformers model: embeddings, no labels
            return new RunRecord(directory.toString(), "full", options.cutoffLen, options.textColumn,
                    options.labelColumn, "split", null, List.of(), null, null, null, null, null, FEATURE_EXTRACTION, "positive", null);
        }
        if (Files.isRegularFile(modelConfig)) {
            List<String> labels = options.labels != null ? options.labels
                    : ClassifierDirectory.labels(JSON.readTree(TextFiles.readUtf8(modelConfig, "model config")));
            return new RunRecord(directory.toString(), "full", options.cutoffLen, options.textColumn,
                    options.labelColumn, "split", null, labels, null, null, null, null, null, null, null, null);
        }
        throw new IllegalArgumentException(directory + " holds no run of peft4j train (" + FILE + "), no adapter ("
                + AdapterCheckpoint.CONFIG_FILE + ") and no model (" + ClassifierDirectory.CONFIG + ")");
    }

    /** The {@code finetuning_type} that made an adapter of {@code config}'s method. */
    private static String methodOf(PeftConfig config) {
        return PeftMethods.forConfig(config).finetuningType();
    }

    /** The base's {@code id2label}, else transformers' default names for the adapter's classifier outputs. */
    private static List<String> adapterLabels(String base, AdapterCheckpoint adapter, Path source) throws IOException {
        Path baseConfig = Path.of(base).resolve(ClassifierDirectory.CONFIG);
        if (Files.isRegularFile(baseConfig)) {
            List<String> labels = ClassifierDirectory.labels(JSON.readTree(TextFiles.readUtf8(baseConfig, "model config")));
            if (!labels.isEmpty()) {
                return labels;
            }
        }
        for (Map.Entry<String, Tensor> e : adapter.tensors().entrySet()) {
            if (e.getKey().endsWith("classifier.weight")) {
                List<String> labels = new ArrayList<>();
                for (int i = 0; i < e.getValue().shape()[0]; i++) {
                    labels.add("LABEL_" + i);
                }
                return labels;
            }
        }
        throw new IllegalArgumentException(source + ": the adapter saves no classifier and its base names no labels;"
                + " give them with --labels");
    }

    /** Writes the record into {@code directory}, atomically. */
    void write(Path directory) throws IOException {
        byte[] json = JSON.writeValueAsString(this).getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(directory.resolve(FILE), out -> out.write(json));
    }

    /**
     * Reads the record of the run in {@code directory}.
     *
     * @throws IllegalArgumentException if the directory or the record is missing or damaged
     */
    static RunRecord read(Path directory) throws IOException {
        if (!Files.isDirectory(directory)) {
            throw new IllegalArgumentException(directory + (Files.exists(directory) ? " is not a directory"
                    : " does not exist") + "; expected the output_dir of a peft4j train run");
        }
        Path file = directory.resolve(FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(directory + " holds no model trained by peft4j (no " + FILE + ")");
        }
        try {
            return JSON.readValue(TextFiles.readUtf8(file, "run record"), RunRecord.class);
        } catch (JsonMappingException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
            String message = cause == e ? e.getOriginalMessage() : cause.getMessage();
            throw new IllegalArgumentException(file + " is damaged: " + message);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is damaged: line " + e.getLocation().getLineNr() + ": "
                    + e.getOriginalMessage());
        }
    }
}
