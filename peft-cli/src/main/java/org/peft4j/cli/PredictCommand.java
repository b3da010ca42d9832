package org.peft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j predict OUTPUT_DIR --input FILE}: each text's label and class probabilities, as TSV
 * (a {@code p_<label>} column per class) or, for a {@code .jsonl} output, one JSON object per line;
 * with a progress bar on standard error. For a language model's run ({@code stage: sft}), the
 * answers generated for a dataset of conversations, written with their scores as LLaMA-Factory
 * writes them ({@link SftPredictions}) into {@code --output} (a directory; default OUTPUT_DIR).
 */
@Command(name = "predict", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Label texts with a trained model, with the probability of each class (a tagger tags each"
                + " word, an embedding model embeds each text); for a language model's run, generate the answers of a"
                + " dataset and score them (BLEU-4, ROUGE).")
final class PredictCommand implements Callable<Integer> {
    /** One JSON object per line. */
    private static final ObjectMapper JSON_LINE = new ObjectMapper();

    @Parameters(paramLabel = "OUTPUT_DIR", description = "the output_dir of peft4j train, or a directory peft4j export wrote")
    private Path directory;

    @Option(names = "--input", required = true, paramLabel = "FILE",
            description = "the texts: a .tsv, .csv or .jsonl file with the training file's text column (a tagger:"
                    + " CoNLL or JSON Lines of tokens; a language model's run: conversations in its formatting)")
    private Path input;

    @Option(names = "--output", paramLabel = "FILE",
            description = "where the predictions go: FILE.tsv or FILE.jsonl (default: TSV on standard output;"
                    + " embeddings: FILE.jsonl or FILE.npz, default JSON Lines; tags: the input's form; a language"
                    + " model's run: the directory of generated_predictions.jsonl, default OUTPUT_DIR)")
    private Path output;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "for a language model's run (stage sft): the longest generated answer (default: the model's"
                    + " generation_config.json, else 20)")
    private Integer maxNewTokens;

    @Mixin
    private RunOptions runOptions = new RunOptions();

    private final Peft4j.Console console;

    PredictCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        RunRecord run = RunRecord.resolve(directory, runOptions);
        if (run.isSft()) {
            new SftPredictions(console).run(directory, run, input, output != null ? output : directory, maxNewTokens);
            return 0;
        }
        if (run.isFeatureExtraction()) {
            return new EmbeddingRun(console).predict(directory, run, input, output);
        }
        if (TokenClassificationRun.holdsTagger(directory)) {
            return new TokenClassificationRun(console).predict(directory, run, input, output);
        }
        List<String> texts = TextFiles.readTexts(input, run.textColumn());
        List<String> labels = run.labels();
        float[][] p;
        try (TrainedModel trained = TrainedModel.load(directory, run)) {
            p = trained.probabilities(texts, console.err());
        }
        boolean jsonl = output != null && output.toString().endsWith(".jsonl");
        StringBuilder sb = new StringBuilder();
        if (!jsonl) {
            sb.append("label");
            labels.forEach(l -> sb.append("\tp_").append(l));
            sb.append('\t').append(run.textColumn()).append('\n');
        }
        for (int i = 0; i < texts.size(); i++) {
            int best = 0;
            for (int c = 1; c < p[i].length; c++) {
                best = p[i][c] > p[i][best] ? c : best;
            }
            if (jsonl) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("label", labels.get(best));
                Map<String, Float> probabilities = new LinkedHashMap<>();
                for (int c = 0; c < p[i].length; c++) {
                    probabilities.put(labels.get(c), p[i][c]);
                }
                row.put("probabilities", probabilities);
                row.put(run.textColumn(), texts.get(i));
                sb.append(JSON_LINE.writeValueAsString(row)).append('\n');
            } else {
                sb.append(labels.get(best));
                for (float v : p[i]) {
                    sb.append('\t').append(String.format(Locale.ROOT, "%.6f", v));
                }
                sb.append('\t').append(texts.get(i).replace('\t', ' ').replace('\n', ' ')).append('\n');
            }
        }
        if (output == null) {
            console.out().print(sb);
        } else {
            Files.writeString(output, sb, StandardCharsets.UTF_8);
            console.out().println(texts.size() + " predictions written to " + output);
        }
        return 0;
    }
}
