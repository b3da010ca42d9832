package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.ClassifierHead;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TextTraining;

/**
 * Data-parallel training in Spark's local[2]: two replicas with per-worker batch 8 end, after 20
 * updates, with the adapter one process trains with batch 16 over the same rows in the same (seeded)
 * order
 * (a tiny random BERT over MiniLM's real vocabulary and the spam data, dropout off); local SGD
 * (sync_every 5) keeps the replicas identical and learns; bad input is refused.
 */
class SparkPeftTest {
    @TempDir
    static Path dir;
    static SparkSession spark;
    static PretrainedEncoder base;
    static List<LabeledText> rows;
    static final List<String> LABELS = List.of("ham", "spam");

    @BeforeAll
    static void start() throws Exception {
        Path model = dir.resolve("tiny-bert");
        try (Model holder = Model.newInstance("tiny"); InputStream tokenizer = SparkPeftTest.class
                .getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            Engine.getInstance().setRandomSeed(3);
            BertModel encoder = new BertModel(new BertConfig(30522, 16, 1, 2, 32, 128, 2, 1e-12f, 0f, 0f));
            encoder.initialize(holder.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
            BertSequenceClassifier classifier = new BertSequenceClassifier(encoder, 2, ClassifierHead.MEAN_POOLING)
                    .initializeHead(holder.getNDManager());
            ClassifierDirectory.save(classifier, LABELS, model, Map.of("tokenizer.json", tokenizer.readAllBytes()));
        }
        base = PretrainedEncoder.huggingFace(model);
        List<LabeledText> all = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(all, new Random(7));
        rows = all.subList(0, 170); // 160 in whole global batches of 16, 10 left out
        spark = SparkSession.builder().master("local[2]").appName("peft4j-spark-test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) {
            spark.stop();
        }
    }

    static Dataset<Row> frame(List<LabeledText> data) {
        List<Row> out = new ArrayList<>();
        data.forEach(r -> out.add(RowFactory.create(r.text(), r.label())));
        StructType schema = new StructType().add("text", DataTypes.StringType).add("label", DataTypes.StringType);
        return spark.createDataFrame(out, schema).coalesce(1);
    }

    static SparkPeft.Builder run() {
        return SparkPeft.builder().setBaseModel(base).optHead("mean_pooling").optCutoffLen(32).optWorkers(2)
                .setPeftConfig(LoraConfig.builder().optR(4).optLoraAlpha(8).optInitLoraWeights(LoraInit.RANDOM)
                        .setTargetModules("query", "value").build())
                .setTraining(settings(8, 1).build());
    }

    /** The tests' optimisation settings: 2 epochs, rate 1e-2, warm-up 0.1, seed 11. */
    static FineTuning.Settings.Builder settings(int batchSize, int accumulation) {
        return FineTuning.Settings.builder().setEpochs(2).setBatchSize(batchSize).setLearningRate(1e-2f)
                .optWeightDecay(0.01f).optWarmupRatio(0.1f).optGradientAccumulationSteps(accumulation).optSeed(11);
    }

    @Test
    void twoReplicasTrainWhatOneProcessTrainsWithTheGlobalBatch() throws Exception {
        SparkPeft parallel = run().build();
        SparkPeft.Result result = parallel.fit(frame(rows));
        assertThat(result.rowsUsed()).isEqualTo(160);
        assertThat(result.rowsLeftOut()).isEqualTo(10);
        assertThat(result.losses()).hasSize(20);
        Path saved = dir.resolve("saved");
        result.save(saved);
        assertThat(saved.resolve("adapter_model.safetensors")).exists();
        assertThat(saved.resolve("training_loss.png")).exists();
        assertThat(java.nio.file.Files.readAllLines(saved.resolve("trainer_log.jsonl"))).hasSize(20);
        System.out.printf("spark local[2]: %d bytes sent per update, all-reduce %.3f s, compute %.3f s; loss %.4f -> %.4f%n",
                result.bytesSentPerUpdate(), result.allReduceSeconds(), result.computeSeconds(), result.losses()[0],
                result.losses()[19]);

        // one process: the same starting adapter, batch 16, the same 160 rows in the same order
        AdapterCheckpoint start = parallel.startingAdapter(LABELS);
        double worst = largestDifference(result.adapter(), oneProcess(start, rows, 160));
        System.out.printf("largest difference from one process: %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-5);
        // and training moved the adapter: the start differs from the result by far more
        assertThat(largestDifference(result.adapter(), start)).isGreaterThan(1e-2);
    }

    @Test
    void twoMicroBatchesOfFourPerWorkerTrainWhatOneProcessTrainsWithBatch16() throws Exception {
        List<LabeledText> some = rows.subList(0, 64);
        SparkPeft parallel = run().setTraining(settings(4, 2).build()).build();
        SparkPeft.Result result = parallel.fit(frame(some));
        assertThat(result.losses()).hasSize(8); // 32 rows per worker, 8 micro-batches, 4 updates an epoch
        double worst = largestDifference(result.adapter(), oneProcess(parallel.startingAdapter(LABELS), some, 64));
        System.out.printf("accumulation 2 x 4 rows x 2 workers against batch 16: largest difference %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-5);

        // LoRA+ (B matrices and 1-D parameters at 16 x the rate), from the same settings a one-process run takes
        SparkPeft loraplus = run().setTraining(settings(8, 1).optLoraplusLrRatio(16).build()).build();
        SparkPeft.Result plus = loraplus.fit(frame(some));
        double plusWorst = largestDifference(plus.adapter(), oneProcess(loraplus.startingAdapter(LABELS), some, 64,
                settings(16, 1).optLoraplusLrRatio(16).optShuffle(false).build()));
        System.out.printf("LoRA+ against one process: largest difference %.3g%n", plusWorst);
        assertThat(plusWorst).isLessThanOrEqualTo(1e-5);
    }

    @Test
    void trainingGoesOnFromAStartingAdapter() throws Exception {
        List<LabeledText> some = rows.subList(0, 64);
        SparkPeft.Result first = run().build().fit(frame(some));
        SparkPeft again = run().setPeftConfig(null).setStartingAdapter(first.adapter()).build();
        assertThat(largestDifference(again.startingAdapter(LABELS), first.adapter())).isZero();
        SparkPeft.Result second = again.fit(frame(some));
        assertThat(second.losses()[0]).isLessThan(first.losses()[0]);
        // a head for three labels does not fit two
        assertThatThrownBy(() -> again.startingAdapter(List.of("a", "b", "c"))).hasMessageContaining("shape");
    }

    @Test
    void otherMethodsTrainWhatOneProcessTrainsToo() throws Exception {
        List<LabeledText> some = rows.subList(0, 64);
        for (PeftConfig config : List.<PeftConfig>of(
                Ia3Config.builder().setTargetModules("key", "value", "output.dense").optFeedforwardModules("output.dense")
                        .build(),
                PrefixTuningConfig.builder().setNumVirtualTokens(3).build())) {
            SparkPeft parallel = run().setPeftConfig(config).build();
            SparkPeft.Result result = parallel.fit(frame(some));
            double worst = largestDifference(result.adapter(), oneProcess(parallel.startingAdapter(LABELS), some, 64));
            System.out.printf("%s: largest difference from one process %.3g%n", config.peftType(), worst);
            assertThat(worst).as(config.peftType().toString()).isLessThanOrEqualTo(1e-5);
        }
    }

    /**
     * The adapter one process trains from {@code start} with batch 16 over the first {@code used}
     * rows of {@code data} in the run's seeded order (the rows sorted by their shuffled keys).
     */
    private static AdapterCheckpoint oneProcess(AdapterCheckpoint start, List<LabeledText> data, int used)
            throws Exception {
        return oneProcess(start, data, used, settings(16, 1).optShuffle(false).build());
    }

    /** As {@link #oneProcess(AdapterCheckpoint, List, int)}, with the given settings. */
    private static AdapterCheckpoint oneProcess(AdapterCheckpoint start, List<LabeledText> data, int used,
            FineTuning.Settings oneProcess) throws Exception {
        try (Model model = Model.newInstance("alone"); BertTokenizer tokenizer = base.tokenizer(32)) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(base.loadEncoder(model.getNDManager()), 2,
                    "mean_pooling", model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.load(classifier, start, "start");
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < data.size(); i++) {
                order.add(i);
            }
            order.sort(java.util.Comparator.comparingLong(i -> SparkPeft.shuffledKey(i, 11)));
            List<LabeledText> shuffled = new ArrayList<>();
            order.subList(0, used).forEach(i -> shuffled.add(data.get(i)));
            assertThat(shuffled).isNotEqualTo(data.subList(0, used));
            new TextTraining(model, peft, tokenizer, LABELS).fit(shuffled, List.of(), oneProcess,
                    r -> { });
            return peft.checkpoint();
        }
    }

    private static double largestDifference(AdapterCheckpoint actual, AdapterCheckpoint expected) {
        assertThat(actual.tensors().keySet()).isEqualTo(expected.tensors().keySet());
        double worst = 0;
        for (Map.Entry<String, Tensor> e : expected.tensors().entrySet()) {
            float[] want = e.getValue().toFloatArray();
            float[] got = actual.tensors().get(e.getKey()).toFloatArray();
            for (int i = 0; i < want.length; i++) {
                worst = Math.max(worst, Math.abs(want[i] - got[i]));
            }
        }
        return worst;
    }

    @Test
    void aReplicaThatDiesMakesSparkRetryTheStageWhichResumesFromTheLastCheckpointAndEndsWithTheUninterruptedAdapter()
            throws Exception {
        List<LabeledText> some = rows.subList(0, 64); // 4 updates an epoch, 8 in all
        // LoRA dropout on: every replica seeds it per update, so a retried stage draws the same masks
        PeftConfig dropout = LoraConfig.builder().optR(4).optLoraAlpha(8).optLoraDropout(0.1f)
                .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query", "value").build();
        SparkPeft.Result uninterrupted = run().setPeftConfig(dropout).build().fit(frame(some));
        assertThat(uninterrupted.stageAttempt()).isZero();

        // without checkpoints the retried stage starts again at update 1
        SparkPeft.Result restarted = run().setPeftConfig(dropout).failAfterUpdate(5).build().fit(frame(some));
        assertThat(restarted.stageAttempt()).isEqualTo(1);
        assertThat(restarted.resumedAfterUpdate()).isZero();
        assertSameTraining(restarted, uninterrupted);

        // with a checkpoint every 2 updates it resumes after update 4, the last saved before the failure
        Path checkpoints = dir.resolve("checkpoints");
        java.io.ByteArrayOutputStream progress = new java.io.ByteArrayOutputStream();
        SparkPeft.Result resumed = run().setPeftConfig(dropout).optSaveSteps(2)
                .optCheckpointDir(checkpoints.toUri().toString()).failAfterUpdate(5)
                .optProgress(new java.io.PrintStream(progress, true, java.nio.charset.StandardCharsets.UTF_8)).build()
                .fit(frame(some));
        assertThat(resumed.stageAttempt()).isEqualTo(1);
        assertThat(resumed.resumedAfterUpdate()).isEqualTo(4);
        // the driver drew worker 0's progress: the first attempt up to the failure, the second from update 5
        assertThat(progress.toString(java.nio.charset.StandardCharsets.UTF_8)).contains("\rspark [", "] 5/8 loss ",
                "\rspark, attempt 2 from update 5 [", "] 8/8 loss ");
        assertSameTraining(resumed, uninterrupted);
        try (var left = java.nio.file.Files.list(checkpoints)) {
            assertThat(left).as("the run's checkpoints are deleted when it ends").isEmpty();
        }
    }

    private static void assertSameTraining(SparkPeft.Result actual, SparkPeft.Result expected) {
        assertThat(actual.losses()).containsExactly(expected.losses());
        assertThat(actual.adapter().tensors().keySet()).isEqualTo(expected.adapter().tensors().keySet());
        for (Map.Entry<String, Tensor> e : expected.adapter().tensors().entrySet()) {
            assertThat(actual.adapter().tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                    .containsExactly(e.getValue().toFloatArray());
        }
    }

    @Test
    void localSgdKeepsTheReplicasIdenticalAndLearns() throws Exception {
        // the data in 6 partitions by label: at least 4 of them are empty
        Dataset<Row> withEmptyPartitions = frame(rows).repartition(6, org.apache.spark.sql.functions.col("label"));
        assertThat(withEmptyPartitions.javaRDD().glom().collect()).hasSize(6).filteredOn(List::isEmpty)
                .hasSizeGreaterThanOrEqualTo(4);
        SparkPeft.Result result = run().optSyncEvery(5).optChecksumEvery(5).build().fit(withEmptyPartitions);
        assertThat(result.rowsUsed()).isEqualTo(160);
        assertThat(result.losses()).hasSize(20);
        float first = result.losses()[0] + result.losses()[1];
        float last = result.losses()[18] + result.losses()[19];
        assertThat(last).isLessThan(first);
    }

    @Test
    void theProbeTimesTheAllReduceAndCountsItsBytes() {
        AllReduceProbe.Timing timing = AllReduceProbe.measure(spark, 2, 1000, 3, java.time.Duration.ofSeconds(30));
        // two workers: each sends half the array in the reduce-scatter and half in the all-gather, 12-byte headers
        assertThat(timing.bytesSentPerRound()).isEqualTo(4000 + 2 * 12);
        assertThat(timing.seconds()).hasSize(3);
        assertThat(java.util.Arrays.stream(timing.seconds()).min().orElseThrow()).isPositive();
        assertThat(timing.medianSeconds()).isPositive();
    }

    @Test
    void badInputIsRefused() {
        assertThatThrownBy(() -> run().build().fit(frame(rows.subList(0, 15))))
                .hasMessage("the data has 15 rows, fewer than one global batch of 16 (2 workers x per-worker batch 8)");
        assertThatThrownBy(() -> run().optColumns("body", "label").build().fit(frame(rows)))
                .hasMessageContaining("the data has no column \"body\"");
        assertThatThrownBy(() -> run().optWorkers(0).build()).hasMessageContaining("workers and sync_every must be >= 1");
        assertThatThrownBy(() -> run().setTraining(settings(8, 1).optEarlyStoppingPatience(2).build()).build())
                .hasMessageStartingWith("early stopping needs dev data");
        assertThatThrownBy(() -> run().setStartingAdapter(run().build().startingAdapter(LABELS)).build())
                .hasMessage("set the adapter to train: either setPeftConfig (a new adapter) or setStartingAdapter"
                        + " (training goes on from it), not both");
        assertThatThrownBy(() -> run().optMaxRows(10).build().fit(frame(rows)))
                .hasMessage("at most 10 rows train, fewer than one global batch of 16 (2 workers x per-worker batch 8)");
        assertThatThrownBy(() -> run().optSaveSteps(2).build().fit(frame(rows)))
                .hasMessageStartingWith("save_steps needs a directory every executor reaches");
    }
}
