package org.peft4j.spark;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.Partitioner;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.Checkpointing;
import org.peft4j.djl.train.DataParallel;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;
import org.peft4j.djl.train.TrainerLog;
import org.peft4j.djl.train.TrainingPlot;
import scala.Tuple2;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Data-parallel fine-tuning of a text classifier's adapter on Apache Spark. {@link #fit} runs one
 * Spark barrier stage of {@code workers} tasks, started together: each task loads the frozen base
 * and the same starting adapter (made once on the driver), trains on its share of the rows, and at
 * every update averages the adapter's gradients with the others over direct TCP connections between
 * the tasks ({@link RingAllReduce}; the barrier is used once, to exchange their addresses), so that
 * every replica takes the same optimizer step: the result is the adapter one process would train with
 * the global batch ({@code workers} x the per-worker batch) over the same rows in the same order.
 * Only adapter gradients travel (for LoRA r = 8 on MiniLM's query and value, 74,498 floats per
 * update). With {@code optSyncEvery(K)} the replicas instead step on their own gradients and average
 * weights every K updates, a different algorithm (local SGD) for slow networks.
 *
 * <p>Rows are put in a seeded random order (the same for every epoch; {@code optShuffle(false)}
 * keeps the data's order) and dealt to the workers a global batch at a time: rows
 * [g B W + w B, g B W + (w + 1) B) of global batch g go to worker w (B the per-worker batch, W the
 * workers); rows past the last full global batch are left out (and counted in the result), and data
 * with fewer rows than one global batch is refused. With gradient accumulation
 * ({@link FineTuning.Settings#gradientAccumulationSteps()} A), an update is A global batches, and the adapter
 * is the one a process trains with batch W B and accumulation A.
 *
 * <p>A failed task makes Spark retry the whole stage (a shuffle follows it). With
 * {@code optSaveSteps(N)} the replicas save their state every N updates (a
 * {@link org.peft4j.djl.train.TrainingState} each), and a retried stage resumes from the last update
 * they all saved; it ends with the adapter and the losses of an uninterrupted run either way, as
 * every replica seeds its dropout per update.
 */
public final class SparkPeft implements Serializable {
    private static final long serialVersionUID = 1L;

    private final PretrainedEncoder base;
    private final String adapterConfigJson;
    /** The weights of the adapter training continues from, or null for a new adapter. */
    private final byte[] continuedWeights;
    private final List<String> labels;
    private final String textColumn;
    private final String labelColumn;
    private final String head;
    private final int cutoffLen;
    private final ReplicaSettings training;
    private final int workers;
    private final int syncEvery;
    private final int checksumEvery;
    private final long timeoutMillis;
    private final boolean shuffle;
    private final int saveSteps;
    private final String checkpointDir;
    private final long maxRows;
    /** Where the driver draws the run's progress, or null (not sent to the executors). */
    private final transient PrintStream progress;
    /** Tests only: worker 1 fails after this update in the stage's first attempt (0: never). */
    private final int failAfterUpdate;
    /** Tests only: that failure halts worker 1's executor JVM. */
    private final boolean killExecutor;

    /**
     * The optimisation settings of every replica, the serialisable part of the {@link FineTuning.Settings}
     * given to {@link Builder#setTraining}.
     */
    private record ReplicaSettings(int epochs, int batchSize, float learningRate, float weightDecay, float warmupRatio,
            LearningRateSchedule.Kind scheduler, float maxGradNorm, long seed, int gradientAccumulationSteps,
            float loraplusLrRatio) implements Serializable {
        static ReplicaSettings of(FineTuning.Settings s) {
            if (s.dataParallel() != null || s.checkpointing() != null) {
                throw new IllegalArgumentException("the settings of a Spark run must not set data parallelism or"
                        + " checkpointing: SparkPeft sets both (optWorkers, optSaveSteps)");
            }
            if (s.earlyStoppingPatience() > 0) {
                throw new IllegalArgumentException("early stopping needs dev data, which the replicas do not have:"
                        + " leave the settings' early-stopping patience at 0");
            }
            return new ReplicaSettings(s.epochs(), s.batchSize(), s.learningRate(), s.weightDecay(), s.warmupRatio(),
                    s.scheduler(), s.maxGradNorm(), s.seed(), s.gradientAccumulationSteps(), s.loraplusLrRatio());
        }

        /** The updates of one replica that trains on {@code rows} rows (whole micro-batches). */
        int updates(int rows) {
            int microBatches = rows / batchSize;
            return (microBatches + gradientAccumulationSteps - 1) / gradientAccumulationSteps * epochs;
        }

        /**
         * The settings of replica {@code rank}: rows in the order given, joined to the others by
         * {@code parallel}, its state kept by {@code checkpointing} (null: never); its dropout seeded
         * per update from a seed of its own.
         */
        FineTuning.Settings replica(DataParallel parallel, Checkpointing checkpointing, int rank) {
            return FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize).setLearningRate(learningRate)
                    .optWeightDecay(weightDecay).optWarmupRatio(warmupRatio).optScheduler(scheduler)
                    .optMaxGradNorm(maxGradNorm).optGradientAccumulationSteps(gradientAccumulationSteps)
                    .optLoraplusLrRatio(loraplusLrRatio).optSeed(FineTuning.derivedSeed(seed, rank)).optShuffle(false)
                    .optDataParallel(parallel).optCheckpointing(checkpointing).build();
        }
    }

    /**
     * What a run returns.
     *
     * @param adapter the trained adapter, identical on every replica
     * @param losses the training loss of each update, averaged over the replicas
     * @param rowsUsed the rows trained on (whole global batches)
     * @param rowsLeftOut the rows not trained on: past the last whole global batch, or past {@code optMaxRows}
     * @param bytesSentPerUpdate the bytes each worker sent per update (gradients and headers)
     * @param allReduceSeconds worker 0's time in the all-reduce, over the run
     * @param computeSeconds worker 0's time outside it (forward, backward, optimizer), over the run
     * @param stageAttempt the attempt of the barrier stage that finished (0: the first; Spark retried it
     *     after a failure otherwise)
     * @param resumedAfterUpdate the saved update that attempt resumed from (0: it started afresh)
     */
    public record Result(AdapterCheckpoint adapter, float[] losses, long rowsUsed, long rowsLeftOut,
            long bytesSentPerUpdate, double allReduceSeconds, double computeSeconds, int stageAttempt,
            int resumedAfterUpdate) {
        /**
         * Saves the adapter in PEFT's layout into {@code directory}, with {@code trainer_log.jsonl}
         * (one line per update: {@code current_steps}, {@code total_steps}, {@code loss}) and the loss
         * curve {@code training_loss.png}, as a one-process run leaves them.
         */
        public void save(Path directory) throws IOException {
            save(directory, true);
        }

        /** Saves as {@link #save(Path)}, drawing {@code training_loss.png} only if {@code plotLoss}. */
        public void save(Path directory, boolean plotLoss) throws IOException {
            adapter.save(directory);
            StringBuilder log = new StringBuilder();
            List<TrainingPlot.Point> curve = new ArrayList<>();
            for (int i = 0; i < losses.length; i++) {
                log.append(String.format(Locale.ROOT, "{\"current_steps\": %d, \"total_steps\": %d, \"loss\": %.6f}%n",
                        i + 1, losses.length, losses[i]));
                curve.add(new TrainingPlot.Point(i + 1, losses[i]));
            }
            byte[] bytes = log.toString().getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(directory.resolve(TrainerLog.FILE), out -> out.write(bytes));
            if (plotLoss) {
                TrainingPlot.write(directory.resolve(FineTuning.PLOT_FILE), "training loss", curve, List.of(), List.of(),
                        null, losses.length);
            }
        }
    }

    private SparkPeft(Builder b) {
        base = Objects.requireNonNull(b.base, "setBaseModel");
        if ((b.config == null) == (b.startingAdapter == null)) {
            throw new IllegalArgumentException("set the adapter to train: either setPeftConfig (a new adapter) or"
                    + " setStartingAdapter (training goes on from it), not " + (b.config == null ? "neither" : "both"));
        }
        adapterConfigJson = b.config != null ? new AdapterCheckpoint(b.config, Map.of()).configJson()
                : b.startingAdapter.configJson();
        continuedWeights = b.startingAdapter == null ? null : b.startingAdapter.weightBytes();
        labels = b.labels == null ? null : List.copyOf(b.labels);
        textColumn = b.textColumn;
        labelColumn = b.labelColumn;
        head = b.head;
        cutoffLen = b.cutoffLen;
        training = ReplicaSettings.of(Objects.requireNonNull(b.training, "setTraining"));
        workers = b.workers;
        syncEvery = b.syncEvery;
        checksumEvery = b.checksumEvery;
        timeoutMillis = b.timeout.toMillis();
        shuffle = b.shuffle;
        saveSteps = b.saveSteps;
        checkpointDir = b.checkpointDir;
        maxRows = b.maxRows;
        progress = b.progress;
        failAfterUpdate = b.failAfterUpdate;
        killExecutor = b.killExecutor;
        if (workers < 1 || syncEvery < 1 || checksumEvery < 0 || cutoffLen < 2 || timeoutMillis < 1) {
            throw new IllegalArgumentException("workers and sync_every must be >= 1, checksum_every >= 0, cutoff_len"
                    + " >= 2 and the timeout positive; got " + workers + ", " + syncEvery + ", " + checksumEvery + ", "
                    + cutoffLen + ", " + b.timeout);
        }
        if (maxRows < 0) {
            throw new IllegalArgumentException("max rows must be >= 0 (0: all), got " + maxRows);
        }
        if (saveSteps < 0) {
            throw new IllegalArgumentException("save_steps must be >= 0 (0: no checkpoints), got " + saveSteps);
        }
    }

    /** Returns a builder: {@code setX} for what a run needs, {@code optX} for what has a default. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * The labels of a run on {@code data}: those set, else the distinct values of the label column, sorted.
     */
    public List<String> labels(Dataset<Row> data) {
        if (labels != null) {
            return labels;
        }
        List<String> out = new ArrayList<>();
        for (Row r : data.select(labelColumn).distinct().collectAsList()) {
            out.add(String.valueOf(r.get(0)));
        }
        Collections.sort(out);
        return out;
    }

    /**
     * The starting adapter: the classifier of the base with the configured adapter applied, seeded,
     * or with the adapter training continues from loaded (which checks that it fits the base and the
     * labels); made once on the driver so that every replica starts from the same weights (its head too).
     */
    AdapterCheckpoint startingAdapter(List<String> labels) throws IOException {
        try (Model model = Model.newInstance("peft4j-spark-start")) {
            Engine.getInstance().setRandomSeed((int) training.seed());
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(base.loadEncoder(model.getNDManager()),
                    labels.size(), head, model.getNDManager());
            model.setBlock(classifier);
            if (continuedWeights != null) {
                return Peft.load(classifier, AdapterCheckpoint.parse(adapterConfigJson, continuedWeights,
                        "the starting adapter"), "the starting adapter").checkpoint();
            }
            return Peft.apply(classifier, AdapterCheckpoint.parse(adapterConfigJson, emptyWeights(), "the run").config())
                    .checkpoint();
        }
    }

    private static byte[] emptyWeights() {
        return new SafeTensors(Map.of(), Map.of()).toBytes();
    }

    /**
     * Trains on {@code data} (its text and label columns) and returns the adapter.
     * A stage that still fails after Spark's retries (a replica that diverged, a peer that stopped
     * answering) fails the job with Spark's exception.
     *
     * @throws IllegalArgumentException if a column is missing, a label is not among the labels, or
     *     the data has fewer rows than one global batch
     * @throws IOException if the starting adapter cannot be made
     */
    public Result fit(Dataset<Row> data) throws IOException {
        for (String column : List.of(textColumn, labelColumn)) {
            if (!List.of(data.columns()).contains(column)) {
                throw new IllegalArgumentException("the data has no column \"" + column + "\"; its columns are "
                        + List.of(data.columns()));
            }
        }
        List<String> runLabels = labels(data);
        long rows = data.count();
        long globalBatch = (long) workers * training.batchSize();
        if (rows < globalBatch) {
            throw new IllegalArgumentException("the data has " + rows + " rows, fewer than one global batch of "
                    + globalBatch + " (" + workers + " workers x per-worker batch " + training.batchSize() + ")");
        }
        long used = (maxRows > 0 ? Math.min(rows, maxRows) : rows) / globalBatch * globalBatch;
        if (used == 0) {
            throw new IllegalArgumentException("at most " + maxRows + " rows train, fewer than one global batch of "
                    + globalBatch + " (" + workers + " workers x per-worker batch " + training.batchSize() + ")");
        }
        AdapterCheckpoint start = startingAdapter(runLabels);
        byte[] startWeights = start.weightBytes();
        String startConfig = start.configJson();
        int batch = training.batchSize();
        int n = workers;
        long seed = training.seed();
        JavaPairRDD<Long, LabeledText> inDataOrder = data.select(textColumn, labelColumn).javaRDD().zipWithIndex()
                .mapToPair(t -> new Tuple2<>(t._2(), new LabeledText(String.valueOf(t._1().get(0)),
                        String.valueOf(t._1().get(1)), "train")));
        // the training order: the data's, or (the default) a seeded permutation of it, as a one-process run shuffles
        JavaPairRDD<Long, LabeledText> ordered = !shuffle ? inDataOrder : inDataOrder
                .mapToPair(t -> new Tuple2<>(shuffledKey(t._1(), seed), t._2())).sortByKey().values().zipWithIndex()
                .mapToPair(t -> new Tuple2<>(t._2(), t._1()));
        JavaPairRDD<Long, LabeledText> indexed = ordered.filter(t -> t._1() < used);
        JavaRDD<Tuple2<Long, LabeledText>> dealt = indexed.partitionBy(new Dealer(n, batch)).map(t -> t);
        String runCheckpoints = saveSteps == 0 ? null : runCheckpointDirectory(data.sparkSession());
        try (DriverProgress drawn = progress == null ? null
                : new DriverProgress(data.sparkSession().conf().get("spark.driver.host"), progress)) {
            List<ReplicaReport> reports = dealt.rdd().barrier()
                    .mapPartitions(new ReplicaFunction(this, runLabels, startConfig, startWeights, runCheckpoints,
                            drawn == null ? null : drawn.address()), false, ClassTag$.MODULE$.apply(ReplicaReport.class))
                    .toJavaRDD()
                    .repartition(1) // a shuffle after the barrier stage, so that Spark retries a failed stage
                    .collect();
            ReplicaReport first = reports.stream().filter(r -> r.rank == 0).findFirst().orElseThrow();
            return new Result(AdapterCheckpoint.parse(first.adapterConfig, first.adapterWeights, "worker 0"),
                    first.losses, used, rows - used, first.bytesSent / Math.max(1, first.losses.length),
                    first.allReduceNanos / 1e9, first.computeNanos / 1e9, first.stageAttempt, first.resumedAfter);
        } finally {
            if (runCheckpoints != null) {
                StageCheckpoints.fileSystem(runCheckpoints).delete(new org.apache.hadoop.fs.Path(runCheckpoints), true);
            }
        }
    }

    /**
     * A new directory for this run's checkpoints inside the checkpoint directory (the one set, else
     * the SparkContext's), made on the driver so that a directory that cannot be written fails now.
     */
    private String runCheckpointDirectory(SparkSession session) throws IOException {
        String parent = checkpointDir != null ? checkpointDir
                : JavaSparkContext.fromSparkContext(session.sparkContext()).getCheckpointDir().orElse(null);
        if (parent == null) {
            throw new IllegalArgumentException("save_steps needs a directory every executor reaches (HDFS, S3, a shared"
                    + " disk; any in local mode) for the checkpoints: set optCheckpointDir or the SparkContext's"
                    + " setCheckpointDir");
        }
        String run = new org.apache.hadoop.fs.Path(parent, "peft4j-" + session.sparkContext().applicationId() + "-"
                + UUID.randomUUID()).toString();
        if (!StageCheckpoints.fileSystem(run).mkdirs(new org.apache.hadoop.fs.Path(run))) {
            throw new IOException("cannot create the checkpoint directory " + run);
        }
        return run;
    }

    /**
     * The sort key of row {@code index} in the seeded permutation ({@link FineTuning#derivedSeed}), so
     * that the order depends on the data's order and the seed only.
     */
    static long shuffledKey(long index, long seed) {
        return FineTuning.derivedSeed(seed, index);
    }

    /** Deals row i to worker (i / batch) mod workers: each worker's share of every global batch, in order. */
    static final class Dealer extends Partitioner {
        private static final long serialVersionUID = 1L;
        private final int workers;
        private final int batch;

        Dealer(int workers, int batch) {
            this.workers = workers;
            this.batch = batch;
        }

        @Override
        public int numPartitions() {
            return workers;
        }

        @Override
        public int getPartition(Object key) {
            return (int) (((Long) key / batch) % workers);
        }
    }

    /** The barrier stage's function: one replica per partition (Scala's function type, as {@code RDDBarrier} takes it). */
    private static final class ReplicaFunction extends AbstractFunction1<scala.collection.Iterator<Tuple2<Long, LabeledText>>,
            scala.collection.Iterator<ReplicaReport>> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final SparkPeft run;
        private final List<String> labels;
        private final String startConfig;
        private final byte[] startWeights;
        private final String checkpoints;
        private final String progress;

        ReplicaFunction(SparkPeft run, List<String> labels, String startConfig, byte[] startWeights,
                String checkpoints, String progress) {
            this.run = run;
            this.labels = labels;
            this.startConfig = startConfig;
            this.startWeights = startWeights;
            this.checkpoints = checkpoints;
            this.progress = progress;
        }

        @Override
        public scala.collection.Iterator<ReplicaReport> apply(scala.collection.Iterator<Tuple2<Long, LabeledText>> rows) {
            try {
                ReplicaReport report = run.train(CollectionConverters.asJava(rows), labels, startConfig, startWeights,
                        checkpoints, progress);
                return CollectionConverters.asScala(List.of(report).iterator());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** What one replica sends back: worker 0 the adapter; every one its measurements. */
    static final class ReplicaReport implements Serializable {
        private static final long serialVersionUID = 1L;
        int rank;
        String adapterConfig;
        byte[] adapterWeights;
        float[] losses;
        long bytesSent;
        long allReduceNanos;
        long computeNanos;
        int stageAttempt;
        int resumedAfter;
    }

    /**
     * One replica: joins the ring, agrees with the others on the saved update to resume from (the
     * earliest of the last complete ones they find), trains its rows in index order, and reports.
     */
    private ReplicaReport train(Iterator<Tuple2<Long, LabeledText>> rowsOfTask, List<String> runLabels,
            String startConfig, byte[] startWeights, String checkpoints, String progressAddress) throws IOException {
        BarrierTaskContext context = BarrierTaskContext.get();
        List<Tuple2<Long, LabeledText>> indexed = new ArrayList<>();
        rowsOfTask.forEachRemaining(indexed::add);
        indexed.sort((a, b) -> Long.compare(a._1(), b._1()));
        List<LabeledText> rows = new ArrayList<>(indexed.size());
        indexed.forEach(t -> rows.add(t._2()));
        int rank = context.partitionId();
        try (ServerSocket server = new ServerSocket(0, workers, InetAddress.getLocalHost())) {
            int latest = checkpoints == null ? 0 : StageCheckpoints.latestComplete(checkpoints);
            String[] gathered = context.allGather(InetAddress.getLocalHost().getHostAddress() + ":" + server.getLocalPort()
                    + " " + latest);
            List<String> addresses = new ArrayList<>();
            int resumeAfter = Integer.MAX_VALUE;
            for (String peer : gathered) {
                String[] parts = peer.split(" ");
                addresses.add(parts[0]);
                resumeAfter = Math.min(resumeAfter, Integer.parseInt(parts[1]));
            }
            try (RingAllReduce ring = RingAllReduce.connect(rank, addresses, server, Duration.ofMillis(timeoutMillis))) {
                GradientAveraging.JVM_WIDE.lock(); // this JVM's replicas compute one at a time (see GradientAveraging)
                try {
                    int updates = training.updates(rows.size());
                    ReplicaReport report;
                    try (DriverProgress.Reporter reporter = new DriverProgress.Reporter(rank == 0 ? progressAddress
                            : null, context.stageAttemptNumber(), updates, resumeAfter)) {
                        report = replica(rank, rows, runLabels, startConfig, startWeights, ring,
                                rank == 1 && context.stageAttemptNumber() == 0 ? failAfterUpdate : 0, checkpoints,
                                resumeAfter, updates, reporter);
                    }
                    report.stageAttempt = context.stageAttemptNumber();
                    report.resumedAfter = resumeAfter;
                    return report;
                } finally {
                    GradientAveraging.JVM_WIDE.unlock();
                }
            }
        }
    }

    /** One replica's training, holding the JVM's lock except in the all-reduce. */
    private ReplicaReport replica(int rank, List<LabeledText> rows, List<String> runLabels, String startConfig,
            byte[] startWeights, RingAllReduce ring, int failAfter, String checkpoints, int resumeAfter, int updates,
            DriverProgress.Reporter reporter) throws IOException {
        try (Model model = Model.newInstance("peft4j-spark-replica-" + rank);
                BertTokenizer tokenizer = base.tokenizer(cutoffLen)) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(base.loadEncoder(model.getNDManager()),
                    runLabels.size(), head, model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.load(classifier, AdapterCheckpoint.parse(startConfig, startWeights, "the driver"),
                    "the driver's starting adapter");
            GradientAveraging parallel = new GradientAveraging(ring, syncEvery, checksumEvery, failAfter, killExecutor);
            parallel.reportTo(reporter);
            StageCheckpoints saved = checkpoints == null ? null
                    : new StageCheckpoints(checkpoints, rank, saveSteps, parallel, resumeAfter);
            new TextTraining(model, peft, tokenizer, runLabels).fit(rows, List.of(),
                    training.replica(parallel, saved, rank), report -> { });
            List<Parameter> trainable = ((AttachedAdapter) peft.adapter(peft.activeAdapter())).trainableParameterList();
            parallel.finish(trainable, updates);
            ReplicaReport report = new ReplicaReport();
            report.rank = rank;
            report.losses = parallel.meanLosses();
            report.bytesSent = ring.bytesSent();
            long[] timings = parallel.timings();
            report.allReduceNanos = timings[0];
            report.computeNanos = timings[1];
            if (rank == 0) {
                AdapterCheckpoint adapter = peft.checkpoint();
                report.adapterConfig = adapter.configJson();
                report.adapterWeights = adapter.weightBytes();
            }
            return report;
        }
    }

    /** Builds a {@link SparkPeft}. */
    public static final class Builder {
        private PretrainedEncoder base;
        private PeftConfig config;
        private AdapterCheckpoint startingAdapter;
        private List<String> labels;
        private String textColumn = "text";
        private String labelColumn = "label";
        private String head = "pooler";
        private int cutoffLen = 128;
        private FineTuning.Settings training;
        private int workers = 2;
        private int syncEvery = 1;
        private int checksumEvery = 10;
        private Duration timeout = Duration.ofSeconds(120);
        private int failAfterUpdate;
        private boolean killExecutor;
        private boolean shuffle = true;
        private int saveSteps;
        private String checkpointDir;
        private long maxRows;
        private PrintStream progress;

        private Builder() {}

        /**
         * Draws the run's progress on {@code out} (default none): worker 0 sends a line per update to
         * the driver (over a socket the driver opens on {@code spark.driver.host}), best effort.
         */
        public Builder optProgress(PrintStream out) {
            this.progress = out;
            return this;
        }

        /**
         * Trains on at most {@code rows} rows (default 0: all), the first of the training order: a
         * seeded random sample when the rows are shuffled (LLaMA-Factory's {@code max_samples}).
         */
        public Builder optMaxRows(long rows) {
            this.maxRows = rows;
            return this;
        }

        /**
         * Sets how often the replicas save their state ({@code save_steps}; default 0, never): a
         * stage that Spark retries after a task failed then resumes from the last state saved instead
         * of update 1, and ends with the same adapter. The states go to a new directory inside
         * {@link #optCheckpointDir}, deleted when {@link #fit} returns.
         */
        public Builder optSaveSteps(int saveSteps) {
            this.saveSteps = saveSteps;
            return this;
        }

        /**
         * Sets where the checkpoints go: a Hadoop URI or path every executor reaches, such as
         * {@code hdfs:///tmp/peft4j} (a local directory only in local mode or on a shared disk);
         * default the SparkContext's checkpoint directory ({@code setCheckpointDir}).
         */
        public Builder optCheckpointDir(String directory) {
            this.checkpointDir = directory;
            return this;
        }

        /**
         * Sets whether the rows train in a seeded permutation of the data's order (default true, as
         * a one-process run shuffles its rows; one permutation for every epoch) or in the data's order.
         */
        public Builder optShuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** Tests only: makes worker 1 fail after {@code update} in the stage's first attempt. */
        Builder failAfterUpdate(int update) {
            this.failAfterUpdate = update;
            return this;
        }

        /** Tests only: makes worker 1's executor JVM halt after {@code update} in the stage's first attempt. */
        Builder killExecutorAfterUpdate(int update) {
            this.failAfterUpdate = update;
            this.killExecutor = true;
            return this;
        }

        /** Sets the frozen base every worker loads (such as {@link PretrainedEncoder#ALL_MINILM_L6_V2}); required. */
        public Builder setBaseModel(PretrainedEncoder base) {
            this.base = base;
            return this;
        }

        /**
         * Sets the new adapter to train (LoRA, IA3, prefix or prompt); this or
         * {@link #setStartingAdapter} is required.
         */
        public Builder setPeftConfig(PeftConfig config) {
            this.config = config;
            return this;
        }

        /**
         * Sets a trained adapter (such as one {@link AdapterCheckpoint#load} read) to go on
         * training, instead of a new one; its head must fit the labels. This or
         * {@link #setPeftConfig} is required.
         */
        public Builder setStartingAdapter(AdapterCheckpoint adapter) {
            this.startingAdapter = adapter;
            return this;
        }

        /**
         * Sets the optimisation settings, the ones a one-process run takes; required. The batch size is
         * per worker and per micro-batch; the seed also orders the rows and seeds the starting adapter.
         * The output directory, progress, plot and logging steps are the driver's: {@link Result#save}
         * writes the log and the plot. Early stopping (no dev data in the replicas), data parallelism
         * and checkpointing (SparkPeft's own) are refused.
         */
        public Builder setTraining(FineTuning.Settings training) {
            this.training = training;
            return this;
        }

        /** Sets the class names in output order (default: the label column's distinct values, sorted). */
        public Builder optLabels(List<String> labels) {
            this.labels = labels;
            return this;
        }

        /** Sets the text and label columns (default {@code text} and {@code label}). */
        public Builder optColumns(String textColumn, String labelColumn) {
            this.textColumn = textColumn;
            this.labelColumn = labelColumn;
            return this;
        }

        /** Sets the classifier head: {@code pooler} (the default) or {@code mean_pooling}. */
        public Builder optHead(String head) {
            this.head = head;
            return this;
        }

        /** Sets the longest token sequence (default 128). */
        public Builder optCutoffLen(int cutoffLen) {
            this.cutoffLen = cutoffLen;
            return this;
        }

        /**
         * Sets the number of workers, the barrier stage's tasks (default 2); the cluster must have
         * as many task slots free at once.
         */
        public Builder optWorkers(int workers) {
            this.workers = workers;
            return this;
        }

        /**
         * Sets how often the replicas synchronise: 1 (the default) averages gradients before every
         * update, exactly one process's training; K > 1 averages weights every K updates instead.
         */
        public Builder optSyncEvery(int syncEvery) {
            this.syncEvery = syncEvery;
            return this;
        }

        /** Sets how often the replicas compare checksums of their weights (default every 10 updates; 0 only at the end). */
        public Builder optChecksumEvery(int checksumEvery) {
            this.checksumEvery = checksumEvery;
            return this;
        }

        /** Sets how long a replica waits for a peer before its task fails (default 120 s). */
        public Builder optTimeout(Duration timeout) {
            this.timeout = timeout;
            return this;
        }

        /** Returns the trainer; throws {@link IllegalArgumentException} for a value out of range. */
        public SparkPeft build() {
            return new SparkPeft(this);
        }
    }
}
