package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.djl.train.TextTraining;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j eval OUTPUT_DIR}: the loss, accuracy and macro F1 of a trained model on labelled
 * data, as JSON on standard output, with a progress bar on standard error. Outputs that are not
 * finite are reported as such and the command fails.
 */
@Command(name = "eval", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Loss, accuracy and macro F1 of a trained model (a tagger: entity precision, recall and F1;"
                + " an embedding model: recall@1, recall@10 and MRR@10), as JSON (default data: the training file's"
                + " test split).")
final class EvalCommand implements Callable<Integer> {
    @Parameters(paramLabel = "OUTPUT_DIR", description = "the output_dir of peft4j train, or a directory peft4j export wrote")
    private Path directory;

    @Option(names = "--dataset", paramLabel = "FILE", description = "labelled data (.tsv, .csv, .jsonl) with the"
            + " training file's column names (default: the training file)")
    private Path dataset;

    @Option(names = "--split", paramLabel = "NAME", description = "evaluate only the rows of this split (default:"
            + " test, if the file has test rows)")
    private String split;

    @Option(names = "--max-samples", paramLabel = "N", description = "a seeded random sample of N rows, as train's"
            + " max_samples takes of each split (default: all rows)")
    private Integer maxSamples;

    @Mixin
    private RunOptions runOptions = new RunOptions();

    private final Peft4j.Console console;

    EvalCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        if (maxSamples != null && maxSamples <= 0) {
            throw new IllegalArgumentException("--max-samples must be a positive integer, got " + maxSamples);
        }
        RunRecord run = RunRecord.resolve(directory, runOptions);
        Path file = dataset != null ? dataset : run.datasetFile();
        if (TokenClassificationRun.holdsTagger(directory)) {
            new TokenClassificationRun(console).evaluate(directory, run, file, maxSamples);
            return 0;
        }
        if (run.isFeatureExtraction()) {
            return new EmbeddingRun(console).evaluate(directory, run, file, split, maxSamples);
        }
        List<LabeledText> rows = select(TextFiles.readRows(file,
                new LabeledTexts.Columns(run.textColumn(), run.labelColumn(), run.splitColumn())), file, split,
                maxSamples, run.seed());
        DataSplits.requireKnownLabels(rows, run.labels(), file.toString());
        Map<String, Object> results = new LinkedHashMap<>();
        try (TrainedModel trained = TrainedModel.load(directory, run)) {
            TextTraining training = new TextTraining(trained.model, List::of, trained.model::newTrainer,
                    trained.tokenizer, run.labels());
            Metrics.put(results, "eval", training, rows, 32, console.err());
        }
        console.out().println(Metrics.json(results));
        List<String> nonFinite = Metrics.nonFinite(results);
        if (!nonFinite.isEmpty()) {
            throw new IllegalStateException(String.join(", ", nonFinite) + ": the model's outputs are not finite;"
                    + " its weights diverged in training");
        }
        return 0;
    }

    /**
     * The rows of {@code file} to evaluate: those of {@code split}, or without one the test rows if
     * there are any, else all; a seeded sample of {@code maxSamples} of them if it is set.
     *
     * @throws IllegalArgumentException if no row is left
     */
    static List<LabeledText> select(List<LabeledText> rows, Path file, String split, Integer maxSamples, long seed) {
        String wanted = split != null ? split : rows.stream().anyMatch(r -> "test".equals(r.split())) ? "test" : null;
        if (wanted != null) {
            rows = LabeledTexts.split(rows, wanted);
            if (rows.isEmpty()) {
                throw new IllegalArgumentException(file + " has no rows in split \"" + wanted + "\"");
            }
        }
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(file + " has no rows to evaluate");
        }
        return maxSamples != null ? DataSplits.sample(rows, maxSamples, seed) : rows;
    }
}
