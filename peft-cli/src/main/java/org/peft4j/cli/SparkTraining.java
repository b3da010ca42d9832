package org.peft4j.cli;

import ai.djl.Model;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.TextTraining;
import org.peft4j.spark.SparkPeft;

/**
 * {@code peft4j train} with {@code spark_master}: text classification trained data-parallel on
 * Apache Spark ({@link SparkPeft}), the {@code dataset} read by Spark (Parquet, CSV with a header,
 * TSV with a header and no quoting, or JSON Lines, by its extension; a directory is read as Parquet). With a split column, the {@code train}
 * rows train and the dev and test rows are scored on the driver afterwards; without one every row
 * trains. The output directory is what a one-process run writes (adapter, {@code trainer_log.jsonl},
 * {@code training_loss.png}, {@code all_results.json}, {@link RunRecord#FILE}), so {@code eval},
 * {@code predict} and {@code export} work on it unchanged.
 */
final class SparkTraining {
    private final Peft4j.Console console;

    SparkTraining(Peft4j.Console console) {
        this.console = console;
    }

    void run(ConfigFile file, TrainArguments args) throws IOException {
        PrintStream out = console.out();
        requireReachable(args.sparkMaster(), file);
        PretrainedEncoder encoder;
        try {
            encoder = TrainedModel.encoder(args.modelNameOrPath());
        } catch (IllegalArgumentException e) {
            throw file.error("model_name_or_path", e.getMessage());
        }
        SparkSession spark = SparkSession.builder().master(args.sparkMaster()).appName("peft4j train")
                .config("spark.ui.enabled", "false").getOrCreate();
        try (OutputLock lock = OutputLock.acquire(args.outputDirectory())) {
            Dataset<Row> all = read(spark, args, file);
            boolean splits = List.of(all.columns()).contains(args.splitColumn());
            Dataset<Row> train = splits ? all.filter(functions.col(args.splitColumn()).equalTo("train")) : all;
            List<LabeledText> dev = splits ? collect(all, args, List.of("dev", "validation", "eval")) : List.of();
            List<LabeledText> test = splits ? collect(all, args, List.of("test")) : List.of();
            if (dev.isEmpty() && args.valSize() > 0) {
                // as a one-process run: a seeded share of the training rows held out as dev data
                Dataset<Row>[] parts = train.randomSplit(new double[] {1 - args.valSize(), args.valSize()}, args.seed());
                train = parts[0];
                dev = rows(parts[1], args, "dev");
                out.printf(Locale.ROOT, "%s has no %s: holding out val_size %s of the training rows (%d) as dev data%n",
                        args.dataset(), splits ? "dev rows" : "split column", args.valSize(), dev.size());
            }
            if (args.maxSamples() != null) {
                dev = DataSplits.sample(dev, args.maxSamples(), args.seed());
                test = DataSplits.sample(test, args.maxSamples(), args.seed());
            }
            SparkPeft.Builder builder = SparkPeft.builder();
            if (args.resumedAdapterPath() != null) {
                builder.setStartingAdapter(startingAdapter(args, file));
            } else {
                builder.setPeftConfig(TrainCommand.peftConfig(args));
            }
            SparkPeft run = builder.setBaseModel(encoder)
                    .optColumns(args.textColumn(), args.labelColumn()).optHead(args.head().recordedName())
                    .optCutoffLen(args.cutoffLen()).optWorkers(args.sparkWorkers()).optSyncEvery(args.syncEvery())
                    .optSaveSteps(args.saveSteps()).optCheckpointDir(args.sparkCheckpointDir())
                    .optMaxRows(args.maxSamples() == null ? 0 : args.maxSamples()).optProgress(console.err())
                    .setTraining(TrainCommand.optimisation(args).build())
                    .build();
            List<String> labels = run.labels(train);
            if (labels.size() < 2) {
                throw new IllegalArgumentException(args.dataset() + ": the training rows have one label only: " + labels);
            }
            DataSplits.requireKnownLabels(dev, labels, "the dev split of " + args.dataset());
            DataSplits.requireKnownLabels(test, labels, "the test split of " + args.dataset());
            out.printf(Locale.ROOT, "%s on %s with Spark (%s, %d workers x batch %d%s%s): %d dev, %d test rows; labels"
                    + " %s%n", args.finetuningType(), encoder, args.sparkMaster(), args.sparkWorkers(),
                    args.perDeviceTrainBatchSize(), args.gradientAccumulationSteps() > 1 ? " x "
                            + args.gradientAccumulationSteps() + " micro-batches" : "", args.syncEvery() > 1
                            ? ", weights averaged every " + args.syncEvery() + " updates" : "", dev.size(), test.size(),
                    labels);
            long start = System.nanoTime();
            SparkPeft.Result result = run.fit(train);
            out.printf(Locale.ROOT, "%d updates on %d rows (%d left out: past max_samples or the last whole global"
                    + " batch); %,d bytes sent per update per worker; worker 0: %.1f s all-reduce, %.1f s compute%n",
                    result.losses().length,
                    result.rowsUsed(), result.rowsLeftOut(), result.bytesSentPerUpdate(), result.allReduceSeconds(),
                    result.computeSeconds());
            if (result.stageAttempt() > 0) {
                out.printf(Locale.ROOT, "a task failed: Spark ran the training stage again (attempt %d), which %s%n",
                        result.stageAttempt() + 1, result.resumedAfterUpdate() > 0 ? "resumed after update "
                                + result.resumedAfterUpdate() + ", the last checkpoint" : "started again at update 1");
            }
            removeIfEmpty(args.sparkCheckpointDir());
            Path dir = args.outputDirectory();
            result.save(dir, args.plotLoss());
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
            results.put("train_loss", (double) result.losses()[result.losses().length - 1]);
            score(args, encoder, labels, result, dev, test, results);
            RunRecord.of(args, labels).write(dir);
            Metrics.write(results, dir.resolve("all_results.json"));
            if (results.containsKey("test_accuracy")) {
                out.printf(Locale.ROOT, "test accuracy %.2f%% (%d rows), macro F1 %.4f%n",
                        100 * (Double) results.get("test_accuracy"), test.size(), results.get("test_f1"));
            }
            out.println("adapter written to " + dir);
        } finally {
            spark.stop();
        }
    }

    /** The adapter of {@code adapter_name_or_path}, which trains further. */
    private static AdapterCheckpoint startingAdapter(TrainArguments args, ConfigFile file) {
        try {
            return AdapterCheckpoint.load(args.resumedAdapterPath());
        } catch (IOException | RuntimeException e) {
            throw file.error("adapter_name_or_path", "adapter_name_or_path " + args.resumedAdapterPath()
                    + " does not load: " + e.getMessage());
        }
    }

    /** Removes the checkpoint directory if it is a local one that the run left empty (fit deletes its own). */
    private static void removeIfEmpty(String checkpointDir) throws IOException {
        if (checkpointDir == null || !checkpointDir.startsWith("file:")) {
            return;
        }
        Path dir = Path.of(URI.create(checkpointDir));
        boolean empty;
        try (Stream<Path> entries = Files.list(dir)) {
            empty = entries.findAny().isEmpty();
        }
        if (empty) {
            Files.delete(dir);
        }
    }

    /** Scores the trained adapter on the dev and test rows, on the driver, as a one-process run does. */
    private void score(TrainArguments args, PretrainedEncoder encoder, List<String> labels, SparkPeft.Result result,
            List<LabeledText> dev, List<LabeledText> test, Map<String, Object> results) throws IOException {
        try (Model model = Model.newInstance("peft4j-spark-score"); BertTokenizer tokenizer = encoder.tokenizer(args.cutoffLen())) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(encoder.loadEncoder(model.getNDManager()),
                    labels.size(), args.head().recordedName(), model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.load(classifier, result.adapter(), args.outputDirectory().toString());
            TextTraining training = new TextTraining(model, peft, tokenizer, labels);
            Metrics.put(results, "eval", training, dev, args.perDeviceTrainBatchSize(), console.err());
            Metrics.put(results, "test", training, test, args.perDeviceTrainBatchSize(), console.err());
        }
    }

    /** Reads {@code dataset} with Spark by its extension, checking the text and label columns. */
    private static Dataset<Row> read(SparkSession spark, TrainArguments args, ConfigFile file) {
        String path = args.dataset();
        String lower = path.toLowerCase(Locale.ROOT);
        Dataset<Row> data;
        try {
            if (lower.endsWith(".tsv")) {
                // a tab-separated file as peft4j reads one: a header, no quoting
                data = spark.read().option("header", "true").option("sep", "\t").option("quote", "\u0000").csv(path);
            } else if (lower.endsWith(".csv")) {
                data = spark.read().option("header", "true").option("multiLine", "true").option("escape", "\"").csv(path);
            } else if (lower.endsWith(".json") || lower.endsWith(".jsonl")) {
                data = spark.read().json(path);
            } else {
                data = spark.read().parquet(path);
            }
        } catch (RuntimeException e) {
            throw file.error("dataset", "dataset " + path + " does not load with Spark: " + e.getMessage());
        }
        for (String column : List.of(args.textColumn(), args.labelColumn())) {
            if (!List.of(data.columns()).contains(column)) {
                throw file.error("dataset", "dataset " + path + " has no column \"" + column + "\"; its columns are "
                        + List.of(data.columns()));
            }
        }
        return data;
    }

    private static List<LabeledText> collect(Dataset<Row> all, TrainArguments args, List<String> splits) {
        return rows(all.filter(functions.col(args.splitColumn()).isin(splits.toArray())), args, splits.get(0));
    }

    /** The text and label of every row of {@code data}, on the driver, marked {@code split}. */
    private static List<LabeledText> rows(Dataset<Row> data, TrainArguments args, String split) {
        List<LabeledText> out = new ArrayList<>();
        for (Row r : data.select(args.textColumn(), args.labelColumn()).collectAsList()) {
            out.add(new LabeledText(String.valueOf(r.get(0)), String.valueOf(r.get(1)), split));
        }
        return out;
    }

    /**
     * Fails at once, with exit status 2, if a {@code spark://} master does not answer (Spark itself
     * retries for a minute before it gives up).
     */
    private static void requireReachable(String master, ConfigFile file) {
        if (!master.startsWith("spark://")) {
            return;
        }
        for (String hostPort : master.substring("spark://".length()).split(",")) {
            URI uri = URI.create("spark://" + hostPort.strip());
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort() < 0 ? 7077 : uri.getPort()), 5000);
                return;
            } catch (IOException | IllegalArgumentException e) {
                // try the next master of a high-availability list
            }
        }
        throw file.error("spark_master", "spark_master " + master + " does not answer (no connection within 5 s);"
                + " check the host and port, or use local[N] to train on this machine");
    }
}
