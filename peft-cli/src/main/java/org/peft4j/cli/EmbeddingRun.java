package org.peft4j.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.TextPair;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.models.bert.OnnxExport;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.PairRankingTask;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TaskEvaluation;

/**
 * {@code eval}, {@code predict} and {@code export} of a sentence-embedding run
 * ({@code task_type: FEATURE_EXTRACTION}), or of the directory its export wrote:
 * <ul>
 *   <li>{@code eval}: recall@1, recall@10 and MRR@10 of each anchor retrieving its positive among
 *       the distinct positives of the rows evaluated, as training scores its dev and test pairs
 *       ({@link PairRankingTask}), and the in-batch loss at {@value #EVAL_BATCH} pairs a batch;</li>
 *   <li>{@code predict}: each text's embedding, as JSON Lines ({@code {"text": ..., "embedding": [...]}},
 *       the default, also on standard output) or, for an output ending in {@code .npz}, one
 *       float32 array {@value #NPZ_ARRAY} [texts, hidden] in NumPy's {@code .npz} format;</li>
 *   <li>{@code export}: the merged model as a sentence-transformers directory, or as ONNX
 *       ({@link EmbeddingExport}).</li>
 * </ul>
 */
final class EmbeddingRun {
    /** Pairs per batch in eval: the in-batch loss depends on it, retrieval does not. */
    static final int EVAL_BATCH = 32;
    /** The name of the embeddings array in a {@code .npz} output. */
    static final String NPZ_ARRAY = "embeddings";
    private static final ObjectMapper JSON_LINE = new ObjectMapper();

    private final Peft4j.Console console;

    EmbeddingRun(Peft4j.Console console) {
        this.console = console;
    }

    /**
     * Scores the pairs of {@code file} (read as the run read its training file) and prints
     * {@code eval_loss}, {@code eval_recall@1}, {@code eval_recall@10}, {@code eval_mrr@10} and
     * {@code eval_samples} as JSON; returns the exit code.
     *
     * @param split the rows' split to evaluate, or null for the test rows if there are any, else all
     * @param maxSamples a seeded sample of at most this many pairs, or null for all
     * @throws IllegalArgumentException if the file lacks the run's columns or has no pairs to score
     */
    int evaluate(Path directory, RunRecord run, Path file, String split, Integer maxSamples) throws IOException {
        List<LabeledText> rows = EmbeddingTraining.asRows(EmbeddingTraining.readPairs(file, run.textColumn(),
                run.positiveColumn(), run.pairSeparator(), run.splitColumn()));
        rows = EvalCommand.select(rows, file, split, maxSamples, run.seed());
        Map<String, Object> results = new LinkedHashMap<>();
        try (TrainedEmbedder trained = TrainedEmbedder.load(directory, run)) {
            FineTuning<TextPair> scoring = new FineTuning<>(trained.model, List::of,
                    trained.model::newTrainer, new PairRankingTask(trained.tokenizer));
            TaskEvaluation e = scoring.evaluate(EmbeddingTraining.pairs(rows), EVAL_BATCH, console.err(), "eval");
            results.put("eval_loss", Metrics.round(e.loss()));
            e.metrics().forEach((name, value) -> results.put("eval_" + name, Metrics.round(value)));
            results.put("eval_samples", rows.size());
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
     * Embeds each text of {@code input}'s text column and writes the embeddings to {@code output}
     * (JSON Lines, or {@code .npz}), or as JSON Lines to standard output if it is null; returns the exit code.
     */
    int predict(Path directory, RunRecord run, Path input, Path output) throws IOException {
        List<String> texts = TextFiles.readTexts(input, run.textColumn());
        boolean npz = output != null && output.toString().toLowerCase(Locale.ROOT).endsWith(".npz");
        float[][] embeddings;
        try (TrainedEmbedder trained = TrainedEmbedder.load(directory, run)) {
            embeddings = trained.embed(texts, console.err());
        }
        if (npz) {
            int width = embeddings.length == 0 ? 0 : embeddings[0].length;
            float[] flat = new float[embeddings.length * width];
            for (int i = 0; i < embeddings.length; i++) {
                System.arraycopy(embeddings[i], 0, flat, i * width, width);
            }
            try (NDManager manager = NDManager.newBaseManager()) {
                NDArray array = manager.create(flat, new Shape(embeddings.length, width));
                array.setName(NPZ_ARRAY);
                NDList list = new NDList(array);
                AtomicFiles.write(output, out -> list.encode(out, NDList.Encoding.NPZ));
            }
        } else {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < texts.size(); i++) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put(run.textColumn(), texts.get(i));
                row.put("embedding", embeddings[i]);
                sb.append(JSON_LINE.writeValueAsString(row)).append('\n');
            }
            if (output == null) {
                console.out().print(sb);
                return 0;
            }
            byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(output, out -> out.write(bytes));
        }
        console.out().println(texts.size() + " embeddings written to " + output);
        return 0;
    }

    /**
     * Merges the run's adapter into its base and writes the model to {@code to}: a
     * sentence-transformers directory, or with {@code onnx} the base's ONNX graph with the merged
     * weights (the base must be an ONNX export); returns the exit code.
     */
    int export(Path directory, RunRecord run, Path to, boolean onnx) throws IOException {
        PretrainedEncoder graph = null;
        if (onnx) {
            graph = TrainedModel.encoder(run.modelNameOrPath());
            OnnxExport.requireOnnxSource(graph);
        }
        String pooling;
        try (TrainedEmbedder trained = TrainedEmbedder.load(directory, run)) {
            SentenceEmbedder merged = trained.peft != null ? (SentenceEmbedder) trained.peft.mergeAndUnload()
                    : trained.embedder;
            pooling = merged.pooling().recordedName();
            if (onnx) {
                EmbeddingExport.writeOnnx(merged, graph, TokenizerFiles.read(trained.base), run.cutoffLen(), to);
            } else {
                EmbeddingExport.writeHuggingFace(merged, TokenizerFiles.read(trained.base), run.asWholeModel(), to);
            }
        }
        console.out().printf(Locale.ROOT, "merged embedding model written to %s (%s, %s pooling in %s)%n", to,
                onnx ? ExportCommand.ONNX_FILE + ", output " + OnnxExport.LAST_HIDDEN_STATE
                        : "config.json, model.safetensors, " + RunRecord.FILE, pooling,
                EmbeddingExport.MODULES);
        return 0;
    }
}
