package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.CharacterCodingException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.data.TextPair;
import org.peft4j.api.data.TextPairs;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.PairRankingTask;
import org.peft4j.djl.tasks.embedding.RetrievalMetrics;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TaskEvaluation;

/**
 * {@code peft4j train} with {@code task_type: FEATURE_EXTRACTION}: trains an adapter for sentence
 * embeddings on (anchor, positive) pairs with in-batch negatives ({@link PairRankingTask}), and
 * writes to {@code output_dir} the adapter ({@code task_type: FEATURE_EXTRACTION}),
 * {@code trainer_log.jsonl}, {@code training_loss.png}, the best epoch's adapter in {@code best/} and
 * {@code all_results.json} with recall@1, recall@10 and MRR@10 on dev and test, for the base model
 * ({@code base_eval_*}, {@code base_test_*}) and the trained one ({@code eval_*}, {@code test_*}).
 * Each split's retrieval searches that split's distinct positives.
 */
final class EmbeddingTraining {
    private final Peft4j.Console console;

    EmbeddingTraining(Peft4j.Console console) {
        this.console = console;
    }

    /** Runs the config's training; returns the exit code. */
    int run(ConfigFile file) throws IOException {
        TrainArguments args = file.arguments();
        PrintStream out = console.out();
        DataSplits splits = DataSplits.of(asRows(readPairs(args.datasetFile(), args.textColumn(),
                args.positiveColumn(), args.pairSeparator(), args.splitColumn())), args.valSize(), args.seed(), args.datasetFile(), out)
                .limit(args.maxSamples(), args.seed());
        PretrainedEncoder encoder;
        EmbeddingPooling pooling;
        try {
            encoder = TrainedModel.encoder(args.modelNameOrPath());
            pooling = EmbeddingPooling.forEncoder(encoder);
        } catch (IllegalArgumentException e) {
            throw file.error("model_name_or_path", e.getMessage());
        }
        try (OutputLock lock = OutputLock.acquire(args.outputDirectory());
                Model model = Model.newInstance("peft4j");
                BertTokenizer tokenizer = encoder.tokenizer(args.cutoffLen())) {
            TextEncoder encoderModel = encoder.loadEncoder(model.getNDManager());
            try {
                args.checkFits(encoderModel.maxTokens(), encoderModel.hiddenSize(), encoderModel.numLayers(), encoder.toString());
            } catch (TrainArguments.BadValueException e) {
                throw file.error(e.key(), e.getMessage());
            }
            out.printf(Locale.ROOT, "%s sentence embeddings (%s pooling) on %s: %d train, %d dev, %d test pairs%n",
                    args.finetuningType(), pooling.recordedName(), encoder, splits.train().size(), splits.dev().size(),
                    splits.test().size());
            Engine.getInstance().setRandomSeed(args.seed());
            long start = System.nanoTime();
            SentenceEmbedder embedder = new SentenceEmbedder(encoderModel, pooling);
            model.setBlock(embedder);
            PeftModel peft = Peft.apply(embedder, TrainCommand.peftConfig(args), PeftModel.DEFAULT_ADAPTER, tokenizer);
            FineTuning<TextPair> run = new FineTuning<>(model, peft, new PairRankingTask(tokenizer));
            int batch = args.perDeviceTrainBatchSize();
            Map<String, Object> results = new LinkedHashMap<>();
            try (PeftModel.Scope base = peft.disableAdapters()) {
                put(results, "base_eval", run, pairs(splits.dev()), batch);
                put(results, "base_test", run, pairs(splits.test()), batch);
            }
            out.printf(Locale.ROOT, "trainable parameters: %,d%n", peft.trainableParameters().trainable());
            run.fit(pairs(splits.train()), pairs(splits.dev()), TrainCommand.settings(args, console.err()),
                    r -> out.println(r.hasDev()
                            ? String.format(Locale.ROOT, "epoch %d: train loss %.4f, dev loss %.4f, dev recall@10 %.4f"
                                    + " (%.0f s)", r.epoch(), r.meanLoss(), r.devLoss(),
                                    r.devMetric(RetrievalMetrics.RECALL_AT_10), r.seconds())
                            : String.format(Locale.ROOT, "epoch %d: train loss %.4f (%.0f s)", r.epoch(), r.meanLoss(),
                                    r.seconds())));
            results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
            results.put("trainable_params", peft.trainableParameters().trainable());
            put(results, "eval", run, pairs(splits.dev()), batch);
            put(results, "test", run, pairs(splits.test()), batch);
            List<String> nonFinite = Metrics.nonFinite(results);
            if (!nonFinite.isEmpty()) {
                throw new IllegalStateException(String.format(Locale.ROOT, "training diverged: %s after training; no"
                        + " adapter written; lower the learning rate (learning_rate %.3g)", String.join(", ", nonFinite),
                        args.learningRate()));
            }
            Path dir = args.outputDirectory();
            RunRecord.of(args, List.of()).write(dir);
            peft.saveAdapter(dir);
            Metrics.write(results, dir.resolve("all_results.json"));
            for (String split : List.of("test", "eval")) {
                if (results.containsKey(split + "_samples")) {
                    out.printf(Locale.ROOT, "%s recall@1 %.4f, recall@10 %.4f, MRR@10 %.4f (%d pairs); base model"
                            + " %.4f, %.4f, %.4f%n", split.equals("eval") ? "dev" : split,
                            results.get(split + "_recall@1"), results.get(split + "_recall@10"),
                            results.get(split + "_mrr@10"), results.get(split + "_samples"),
                            results.get("base_" + split + "_recall@1"), results.get("base_" + split + "_recall@10"),
                            results.get("base_" + split + "_mrr@10"));
                    break;
                }
            }
            out.println("adapter written to " + dir);
        }
        return 0;
    }

    /**
     * The pairs of {@code data}: {@code textColumn} split at {@code pairSeparator}, or without one
     * the {@code textColumn} (anchor) and {@code positiveColumn} of each row.
     */
    static List<TextPair> readPairs(Path data, String textColumn, String positiveColumn, String pairSeparator,
            String splitColumn) throws IOException {
        try {
            if (pairSeparator != null) {
                // only the text column is read (as both the text and the "label" of the rows)
                List<LabeledText> rows = LabeledTexts.read(data, new LabeledTexts.Columns(textColumn, textColumn,
                        splitColumn));
                List<TextPair> pairs = TextPairs.splitEach(rows, pairSeparator);
                if (pairs.isEmpty()) {
                    throw new IllegalArgumentException(data + ": no text of column \"" + textColumn
                            + "\" holds pair_separator \"" + pairSeparator + "\" with text on both sides");
                }
                return pairs;
            }
            return TextPairs.read(data, new TextPairs.Columns(textColumn, positiveColumn, splitColumn));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("dataset " + data + " does not exist");
        } catch (CharacterCodingException e) {
            TextFiles.readUtf8(data, "dataset"); // throws with the file, line and byte
            throw e;
        }
    }

    /** Pairs as the rows {@link DataSplits} splits (the anchor as the text, the positive as the label). */
    static List<LabeledText> asRows(List<TextPair> pairs) {
        List<LabeledText> rows = new ArrayList<>(pairs.size());
        pairs.forEach(p -> rows.add(new LabeledText(p.anchor(), p.positive(), p.split())));
        return rows;
    }

    /** Rows of {@link #asRows} as pairs again. */
    static List<TextPair> pairs(List<LabeledText> rows) {
        List<TextPair> pairs = new ArrayList<>(rows.size());
        rows.forEach(r -> pairs.add(new TextPair(r.text(), r.label(), r.split())));
        return pairs;
    }

    /** Evaluates {@code pairs} (nothing if there are none) and puts the loss, the metrics and the count into {@code results}. */
    private void put(Map<String, Object> results, String prefix, FineTuning<TextPair> run, List<TextPair> pairs,
            int batchSize) {
        if (pairs.isEmpty()) {
            return;
        }
        TaskEvaluation e = run.evaluate(pairs, batchSize, console.err(), prefix);
        results.put(prefix + "_loss", Metrics.round(e.loss()));
        e.metrics().forEach((name, value) -> results.put(prefix + "_" + name, Metrics.round(value)));
        results.put(prefix + "_samples", pairs.size());
    }
}
