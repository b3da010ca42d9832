package org.peft4j.it;

import ai.djl.Model;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.TextTraining;
import org.peft4j.spark.AllReduceProbe;
import org.peft4j.spark.LocalCluster;
import org.peft4j.spark.SparkPeft;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Spark benchmark: what data-parallel training costs in communication, measured across
 * executor JVMs ({@code local-cluster[workers,1,memory]}) and set against the compute of an
 * update, for LoRA and for full fine-tuning, side by side in one run. It (1) trains LoRA (r = 8 on
 * all-MiniLM-L6-v2's query and value, the pooler and classifier whole, as
 * {@code examples/spam-lora-spark.yaml}) with {@link SparkPeft} on spam rows and reports the bytes
 * each worker sends per update and worker 0's all-reduce and compute time per update; (2) times
 * the ring all-reduce alone ({@link AllReduceProbe}) across the executors for an array of the
 * adapter's size and one of the whole model's; (3) times LoRA and full fine-tuning updates on one
 * batch of the same size in this JVM; and (4) models the speed-up against workers on a
 * 10 Gbit/s network from those figures. Writes {@code spark-results.md} and
 * {@code spark-results.json}. Run with {@code SPARK_HOME} and {@code SPARK_SCALA_VERSION=2.13} set
 * and Spark's JVM options (README.md gives the Maven line that does it).
 */
@Command(name = "spark-benchmark", sortOptions = false,
        description = "Measures the all-reduce of data-parallel training on Spark against an update's compute and"
                + " writes spark-results.md and spark-results.json.")
public final class SparkBenchmark implements Callable<Integer> {
    /** The modelled network: 10 Gbit/s, in bytes per second. */
    private static final double NETWORK_BYTES_PER_SECOND = 10e9 / 8;
    /** The modelled latency of one step of the ring (a message to the next worker and its answer). */
    private static final double STEP_LATENCY_SECONDS = 50e-6;
    private static final List<Integer> MODELLED_WORKERS = List.of(2, 4, 8, 16, 32, 64);

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show the options and exit")
    private boolean help;
    @Option(names = "--out", paramLabel = "DIR", description = "where the results go (default: ${DEFAULT-VALUE})")
    private Path out = Path.of("benchmarks");
    @Option(names = "--workers", paramLabel = "N", description = "executor JVMs, one replica each (default: ${DEFAULT-VALUE})")
    private int workers = 2;
    @Option(names = "--rows", paramLabel = "N", description = "training rows (default: ${DEFAULT-VALUE})")
    private int rows = 800;
    @Option(names = "--batch", paramLabel = "N", description = "rows per worker per update (default: ${DEFAULT-VALUE})")
    private int batch = 8;
    @Option(names = "--cutoff", paramLabel = "N", description = "cutoff_len in tokens (default: ${DEFAULT-VALUE})")
    private int cutoff = 64;
    @Option(names = "--rounds", paramLabel = "N", description = "timed all-reduces and timed updates of each kind"
            + " (default: ${DEFAULT-VALUE})")
    private int rounds = 7;
    @Option(names = "--executor-memory", paramLabel = "MB", description = "(default: ${DEFAULT-VALUE})")
    private int executorMemory = 3072;

    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkBenchmark()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        String sparkHome = System.getenv("SPARK_HOME");
        if (sparkHome == null) {
            System.err.println("set SPARK_HOME (any directory: it gets a jars folder of links to this class path) and"
                    + " SPARK_SCALA_VERSION=2.13");
            return 2;
        }
        String classPath = System.getProperty("java.class.path");
        LocalCluster.linkJars(Path.of(sparkHome), classPath);
        List<LabeledText> all = new ArrayList<>();
        for (LabeledText r : LabeledTexts.readTsv(Path.of("data/spamassassin.tsv"))) {
            if (r.split().equals("train")) {
                all.add(r);
            }
        }
        Collections.shuffle(all, new Random(42));
        List<LabeledText> train = all.subList(0, Math.min(rows, all.size()));
        List<String> labels = List.of("ham", "spam");
        LoraConfig lora = LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build();
        String master = "local-cluster[" + workers + ",1," + executorMemory + "]";

        Map<String, Object> results = new LinkedHashMap<>();
        results.put("date", LocalDate.now().toString());
        results.put("master", master);
        results.put("rows", train.size());
        results.put("batch_per_worker", batch);
        results.put("cutoff_len", cutoff);
        SparkSession spark = SparkSession.builder().master(master).appName("peft4j spark benchmark")
                .config("spark.ui.enabled", "false").config("spark.executor.extraClassPath", classPath)
                .config("spark.executor.extraJavaOptions", "-Dai.djl.offline=true").getOrCreate();
        long adapterFloats;
        long modelFloats;
        try {
            // (1) LoRA trained data-parallel across the executors
            SparkPeft run = SparkPeft.builder().setBaseModel(PretrainedEncoder.ALL_MINILM_L6_V2).setPeftConfig(lora)
                    .optLabels(labels).optCutoffLen(cutoff).optWorkers(workers)
                    .setTraining(FineTuning.Settings.builder().setEpochs(1).setBatchSize(batch).setLearningRate(2e-3f)
                            .optWarmupRatio(0.1f).optSeed(42).build()).build();
            SparkPeft.Result result = run.fit(frame(spark, train));
            int updates = result.losses().length;
            adapterFloats = 0;
            for (var tensor : result.adapter().tensors().values()) {
                adapterFloats += tensor.elementCount();
            }
            Map<String, Object> training = new LinkedHashMap<>();
            training.put("updates", updates);
            training.put("trainable_floats", adapterFloats);
            training.put("bytes_sent_per_update_per_worker", result.bytesSentPerUpdate());
            training.put("all_reduce_ms_per_update", round(1e3 * result.allReduceSeconds() / updates));
            training.put("compute_ms_per_update", round(1e3 * result.computeSeconds() / updates));
            training.put("all_reduce_share", round(result.allReduceSeconds()
                    / (result.allReduceSeconds() + result.computeSeconds())));
            training.put("loss_first", round(result.losses()[0]));
            training.put("loss_last", round(result.losses()[updates - 1]));
            results.put("lora_training", training);
            System.out.println("LoRA across executors: " + training);

            modelFloats = modelFloats(labels.size());
            // (2) the all-reduce alone, for the adapter's gradients and for the whole model's
            Map<String, Object> probes = new LinkedHashMap<>();
            Map<String, Long> sizes = new LinkedHashMap<>();
            sizes.put("lora", adapterFloats);
            sizes.put("full", modelFloats);
            for (Map.Entry<String, Long> size : sizes.entrySet()) {
                AllReduceProbe.Timing timing = AllReduceProbe.measure(spark, workers, Math.toIntExact(size.getValue()),
                        rounds, Duration.ofMinutes(2));
                Map<String, Object> probe = new LinkedHashMap<>();
                probe.put("floats", size.getValue());
                probe.put("bytes_sent_per_worker", timing.bytesSentPerRound());
                probe.put("median_ms", round(1e3 * timing.medianSeconds()));
                probe.put("throughput_mb_per_s", round(timing.bytesSentPerRound() / timing.medianSeconds() / 1e6));
                probes.put(size.getKey(), probe);
                System.out.println("all-reduce of " + size.getKey() + ": " + probe);
            }
            results.put("all_reduce_probe", probes);
        } finally {
            spark.stop();
        }

        // (3) an update's compute, LoRA and full fine-tuning, on one batch of the per-worker size, in this JVM
        List<LabeledText> fixedBatch = train.subList(0, batch);
        Map<String, Object> compute = new LinkedHashMap<>();
        for (String method : List.of("lora", "full")) {
            compute.put(method + "_update_ms", round(medianUpdateMs(method, lora, labels, fixedBatch)));
        }
        results.put("compute_in_one_jvm", compute);
        System.out.println("one update in this JVM: " + compute);

        // (4) the model: n workers, each with the measured compute, on a 10 Gbit/s network
        List<Map<String, Object>> model = new ArrayList<>();
        for (String method : List.of("lora", "full")) {
            double computeSeconds = (Double) compute.get(method + "_update_ms") / 1e3;
            long bytes = 4 * (method.equals("lora") ? adapterFloats : modelFloats);
            for (int n : MODELLED_WORKERS) {
                double allReduce = 2.0 * (n - 1) / n * bytes / NETWORK_BYTES_PER_SECOND + 2 * (n - 1) * STEP_LATENCY_SECONDS;
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("method", method);
                row.put("workers", n);
                row.put("bytes_per_update", bytes);
                row.put("all_reduce_ms", round(1e3 * allReduce));
                row.put("all_reduce_share", round(allReduce / (computeSeconds + allReduce)));
                row.put("speed_up", round(n * computeSeconds / (computeSeconds + allReduce)));
                model.add(row);
            }
        }
        results.put("model_10gbit", model);
        Files.createDirectories(out);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("spark-results.json")
                .toFile(), results);
        Files.writeString(out.resolve("spark-results.md"), markdown(results), StandardCharsets.UTF_8);
        System.out.println("wrote " + out.resolve("spark-results.md"));
        return 0;
    }

    private static Dataset<Row> frame(SparkSession spark, List<LabeledText> data) {
        List<Row> out = new ArrayList<>();
        data.forEach(r -> out.add(RowFactory.create(r.text(), r.label())));
        StructType schema = new StructType().add("text", DataTypes.StringType).add("label", DataTypes.StringType);
        return spark.createDataFrame(out, schema);
    }

    /** The classifier's weights, all of them: what full fine-tuning would average each update. */
    private static long modelFloats(int labels) throws Exception {
        try (Model model = Model.newInstance("count")) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(
                    PretrainedEncoder.ALL_MINILM_L6_V2.loadEncoder(model.getNDManager()), labels, "pooler",
                    model.getNDManager());
            long n = 0;
            for (Pair<String, Parameter> p : classifier.getParameters()) {
                n += p.getValue().getArray().size();
            }
            return n;
        }
    }

    /** The median wall time of an update on {@code batch} (after two warm-up updates), LoRA or full fine-tuning. */
    private double medianUpdateMs(String method, LoraConfig lora, List<String> labels, List<LabeledText> batch)
            throws Exception {
        try (Model model = Model.newInstance(method);
                BertTokenizer tokenizer = PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(cutoff)) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(
                    PretrainedEncoder.ALL_MINILM_L6_V2.loadEncoder(model.getNDManager()), labels.size(), "pooler",
                    model.getNDManager());
            model.setBlock(classifier);
            TextTraining training;
            float lr;
            if (method.equals("full")) {
                List<Parameter> trainable = new ArrayList<>();
                for (Pair<String, Parameter> p : classifier.getParameters()) {
                    p.getValue().freeze(false);
                    trainable.add(p.getValue());
                }
                training = new TextTraining(model, () -> trainable, model::newTrainer, tokenizer, labels);
                lr = 5e-5f;
            } else {
                PeftModel peft = Peft.apply(classifier, lora);
                training = new TextTraining(model, peft, tokenizer, labels);
                lr = 2e-3f;
            }
            training.profileSteps(batch, lr, 2);
            List<Double> ms = new ArrayList<>();
            for (FineTuning.StepPhases phases : training.profileSteps(batch, lr, rounds)) {
                ms.add(phases.totalMs());
            }
            Collections.sort(ms);
            return ms.get(ms.size() / 2);
        }
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    @SuppressWarnings("unchecked")
    private static String markdown(Map<String, Object> r) {
        Map<String, Object> t = (Map<String, Object>) r.get("lora_training");
        Map<String, Object> probes = (Map<String, Object>) r.get("all_reduce_probe");
        Map<String, Object> c = (Map<String, Object>) r.get("compute_in_one_jvm");
        StringBuilder md = new StringBuilder();
        md.append("# Spark benchmark\n\n");
        md.append(String.format(Locale.ROOT, "Measured on %s, `%s` (separate executor JVMs of one core each on this"
                + " 2-core machine), all-MiniLM-L6-v2, %s rows, batch %s per worker, cutoff_len %s, written by"
                + " `org.peft4j.it.SparkBenchmark` (see README.md).%n%n", r.get("date"), r.get("master"), r.get("rows"),
                r.get("batch_per_worker"), r.get("cutoff_len")));
        md.append("## LoRA trained across the executors\n\n");
        md.append("| updates | trainable floats | bytes sent per update per worker | all-reduce per update |"
                + " compute per update | all-reduce share | loss first -> last |\n|---|---|---|---|---|---|---|\n");
        md.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.1f ms | %.1f ms | %.1f%% | %.4f -> %.4f |%n%n",
                t.get("updates"), (Long) t.get("trainable_floats"), (Long) t.get("bytes_sent_per_update_per_worker"),
                (Double) t.get("all_reduce_ms_per_update"), (Double) t.get("compute_ms_per_update"),
                100 * (Double) t.get("all_reduce_share"), (Double) t.get("loss_first"), (Double) t.get("loss_last")));
        md.append("(The all-reduce time includes waiting for the slower replica.)\n\n");
        md.append("## The all-reduce alone, across the executors (loopback)\n\n| gradients of | floats | bytes sent per"
                + " worker | median time | throughput |\n|---|---|---|---|---|\n");
        for (Map.Entry<String, Object> e : probes.entrySet()) {
            Map<String, Object> p = (Map<String, Object>) e.getValue();
            md.append(String.format(Locale.ROOT, "| %s | %,d | %,d | %.1f ms | %.0f MB/s |%n",
                    e.getKey().equals("lora") ? "the LoRA adapter" : "the whole model (full fine-tuning)",
                    (Long) p.get("floats"), (Long) p.get("bytes_sent_per_worker"), (Double) p.get("median_ms"),
                    (Double) p.get("throughput_mb_per_s")));
        }
        md.append(String.format(Locale.ROOT, "%n## An update's compute, in one JVM, side by side%n%n"
                + "LoRA %.1f ms, full fine-tuning %.1f ms (%.2f x), on one batch of %s rows.%n%n",
                (Double) c.get("lora_update_ms"), (Double) c.get("full_update_ms"),
                (Double) c.get("full_update_ms") / (Double) c.get("lora_update_ms"), r.get("batch_per_worker")));
        md.append("## Modelled on a 10 Gbit/s network\n\nA ring all-reduce of B bytes over n workers sends 2 (n - 1) / n"
                + " x B per worker in 2 (n - 1) steps: time = 2 (n - 1) / n x B / 1.25 GB/s + 2 (n - 1) x 50 us; speed-up"
                + " = n x C / (C + time), C the update's compute above, the batch per worker fixed.\n\n"
                + "| method | workers | bytes per update | all-reduce | share of the update | speed-up |\n"
                + "|---|---|---|---|---|---|\n");
        for (Map<String, Object> row : (List<Map<String, Object>>) r.get("model_10gbit")) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %,d | %.1f ms | %.1f%% | %.2f x |%n", row.get("method"),
                    row.get("workers"), (Long) row.get("bytes_per_update"), (Double) row.get("all_reduce_ms"),
                    100 * (Double) row.get("all_reduce_share"), (Double) row.get("speed_up")));
        }
        return md.toString();
    }
}
