package org.peft4j.cli;

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
import java.util.List;
import org.peft4j.api.AtomicFiles;

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
 * @param dataset {@code dataset}: the training file, as an absolute path
 * @param labels {@code labels}: the class names in output order
 * @param seed {@code seed}: the seed of the run's samples (42 in records that lack it)
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
        @JsonProperty("seed") Long seed) {

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
        required("dataset", dataset);
        required("labels", labels);
        seed = seed != null ? seed : 42L;
        if (!TrainArguments.METHODS.contains(finetuningType)) {
            throw new IllegalArgumentException("finetuning_type must be one of " + TrainArguments.METHODS + ", got \""
                    + finetuningType + "\"");
        }
        if (cutoffLen < 2) {
            throw new IllegalArgumentException("cutoff_len must be at least 2, got " + cutoffLen);
        }
        if (labels.size() < 2 || labels.stream().anyMatch(l -> l == null)) {
            throw new IllegalArgumentException("labels must name two classes or more, got " + labels);
        }
        labels = List.copyOf(labels);
    }

    private static void required(String key, Object value) {
        if (value == null) {
            throw new IllegalArgumentException("missing key \"" + key + "\"");
        }
    }

    /** The record of a run of {@code args} that learned {@code labels}. */
    static RunRecord of(TrainArguments args, List<String> labels) {
        return new RunRecord(args.modelNameOrPath(), args.finetuningType(), args.cutoffLen(), args.textColumn(),
                args.labelColumn(), args.splitColumn(), args.datasetFile().toAbsolutePath().toString(), labels,
                args.seed().longValue());
    }

    /** This run as a whole model (what {@code export} writes): the same data, method {@code full}. */
    RunRecord asWholeModel() {
        return new RunRecord(modelNameOrPath, "full", cutoffLen, textColumn, labelColumn, splitColumn, dataset, labels,
                seed);
    }

    /** Whether the directory holds an adapter rather than a whole model. */
    boolean holdsAdapter() {
        return !finetuningType.equals("full") && !finetuningType.equals("freeze");
    }

    /** The training file. */
    Path datasetFile() {
        return Path.of(dataset);
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
