package org.peft4j.cli;

import java.util.List;
import picocli.CommandLine.Option;

/**
 * What {@code eval}, {@code predict} and {@code export} need to know about a directory that
 * {@code peft4j train} did not write (an adapter saved by Python's PEFT, or a model saved by
 * transformers), which has no {@link RunRecord}. A run record, where there is one, takes
 * precedence.
 */
final class RunOptions {
    @Option(names = "--model", paramLabel = "NAME_OR_PATH", description = "the base model of an adapter without a"
            + " peft4j run record (default: the adapter's base_model_name_or_path)")
    String model;

    @Option(names = "--labels", split = ",", paramLabel = "LABEL", description = "the class names in output order"
            + " (default: the base model's id2label, else LABEL_0, LABEL_1, ... as transformers names them)")
    List<String> labels;

    @Option(names = "--cutoff-len", paramLabel = "N", defaultValue = "128",
            description = "the longest token sequence (default: ${DEFAULT-VALUE})")
    int cutoffLen;

    @Option(names = "--text-column", paramLabel = "NAME", defaultValue = "text",
            description = "the column holding the texts (default: ${DEFAULT-VALUE})")
    String textColumn;

    @Option(names = "--label-column", paramLabel = "NAME", defaultValue = "label",
            description = "the column holding the labels (default: ${DEFAULT-VALUE})")
    String labelColumn;
}
