package org.peft4j.it;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.TribuoPeft;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.MutableDataset;
import org.tribuo.Trainer;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.evaluation.LabelEvaluator;
import org.tribuo.classification.sgd.fm.FMClassificationTrainer;
import org.tribuo.classification.sgd.linear.LinearSGDTrainer;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.impl.ArrayExample;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.provenance.SimpleDataSourceProvenance;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The Tribuo benchmark: one epoch of Tribuo's own trainer against one epoch of peft4j's LoRA and
 * warm start on a pretrained model of the same kind, for a linear model ({@code LinearSGDTrainer})
 * and a factorization machine ({@code FMClassificationTrainer}), at each minibatch size. The data
 * are dense synthetic classes (every row has every feature); the pretrained models learn domain A
 * and every timed trainer trains on a shifted domain B, Tribuo's own from scratch. Rows run
 * interleaved, in a rotating order, and each reports the median wall time of its one-epoch
 * {@code train} call (the whole call: vectors, the epoch and the model built at the end), its ratio
 * to Tribuo's own trainer of the same model kind and minibatch, the test accuracy on domain B, and
 * the bytes the training thread allocated during the call. Writes {@code tribuo-results.md} and
 * {@code tribuo-results.json}.
 *
 * <p>Options ({@code --help} lists them with their defaults): {@code --out DIR}, {@code --rows N},
 * {@code --features N}, {@code --classes N}, {@code --rank N}, {@code --factors N},
 * {@code --minibatch N,N}, {@code --runs N}, {@code --warmup N}.
 */
@Command(name = "tribuo-benchmark", sortOptions = false,
        description = "Times one epoch of Tribuo's own SGD trainers against peft4j's LoRA and warm start and writes"
                + " tribuo-results.md and tribuo-results.json.")
public final class TribuoBenchmark implements Callable<Integer> {
    private static final double LEARNING_RATE = 0.1;
    private static final long SEED = 1L;
    /** Held here: java.util.logging keeps loggers weakly, and a collected one forgets its level. */
    private static final Logger TRIBUO_LOG = Logger.getLogger("org.tribuo");

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show the options and exit")
    private boolean help;
    @Option(names = "--out", paramLabel = "DIR", description = "where the results go (default: ${DEFAULT-VALUE})")
    private Path out = Path.of("benchmarks");
    @Option(names = "--rows", paramLabel = "N", description = "training rows of domain B (default: ${DEFAULT-VALUE})")
    private int rows = 50_000;
    @Option(names = "--features", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int features = 100;
    @Option(names = "--classes", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int classes = 10;
    @Option(names = "--rank", paramLabel = "N", description = "LoRA's r, with alpha = r (default: ${DEFAULT-VALUE})")
    private int rank = 4;
    @Option(names = "--factors", paramLabel = "N", description = "the factorization machines' factor count"
            + " (default: ${DEFAULT-VALUE})")
    private int factors = 4;
    @Option(names = "--minibatch", paramLabel = "N,N", split = ",", description = "minibatch sizes"
            + " (default: ${DEFAULT-VALUE})")
    private int[] minibatches = {1, 32};
    @Option(names = "--runs", paramLabel = "N", description = "timed runs of every row (default: ${DEFAULT-VALUE})")
    private int runs = 7;
    @Option(names = "--warmup", paramLabel = "N", description = "untimed runs of every row first"
            + " (default: ${DEFAULT-VALUE})")
    private int warmup = 2;

    /** A benchmark with the default options; picocli sets the ones given. */
    TribuoBenchmark() {}

    /** Runs the benchmark; {@code --help} lists the options. Exits with 2 on bad options, 1 on a failed run. */
    public static void main(String[] args) {
        int status = new CommandLine(new TribuoBenchmark()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** One timed row: a trainer of one model kind at one minibatch size. */
    private record Row(String model, String trainer, int minibatch, Function<Integer, Trainer<Label>> make) {}

    /** What a row measured over the timed runs. */
    private static final class Measured {
        final List<Double> millis = new ArrayList<>();
        final List<Double> cpuMillis = new ArrayList<>();
        final List<Long> allocated = new ArrayList<>();
        double accuracy = Double.NaN;
        String failure;
    }

    /** Trains the bases, runs every row, and writes the results. */
    @Override
    public Integer call() throws Exception {
        TRIBUO_LOG.setLevel(Level.WARNING);
        Domains domains = new Domains(features, classes, new SplittableRandom(5));
        Dataset<Label> baseData = domains.sample(false, Math.max(rows / 2, 1000), 11);
        Dataset<Label> train = domains.sample(true, rows, 12);
        Dataset<Label> test = domains.sample(true, Math.max(rows / 5, 1000), 13);
        Model<Label> linearBase = new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(LEARNING_RATE), 3, SEED)
                .train(baseData);
        Model<Label> fmBase = new FMClassificationTrainer(new LogMulticlass(), new AdaGrad(LEARNING_RATE), 3, -1, 1,
                SEED, factors, 0.1).train(baseData);
        LabelEvaluator evaluator = new LabelEvaluator();
        double linearBaseAccuracy = evaluator.evaluate(linearBase, test).accuracy();
        double fmBaseAccuracy = evaluator.evaluate(fmBase, test).accuracy();
        System.out.printf(Locale.ROOT, "bases on domain B: linear %.4f, factorization machine %.4f%n",
                linearBaseAccuracy, fmBaseAccuracy);

        LoraConfig lora = LoraConfig.builder().optR(rank).optLoraAlpha(rank).setTargetAllLinear().optBias(LoraBias.ALL)
                .build();
        List<Row> table = new ArrayList<>();
        for (int mb : minibatches) {
            table.add(new Row("linear", "Tribuo LinearSGDTrainer", mb,
                    m -> new LinearSGDTrainer(new LogMulticlass(), new AdaGrad(LEARNING_RATE), 1, -1, m, SEED)));
            table.add(new Row("linear", "LoRA r=" + rank, mb,
                    m -> TribuoPeft.lora(linearBase, lora).epochs(1).minibatchSize(m).seed(SEED)));
            table.add(new Row("linear", "warm start", mb,
                    m -> TribuoPeft.warmStart(linearBase).epochs(1).minibatchSize(m).seed(SEED)));
            table.add(new Row("fm", "Tribuo FMClassificationTrainer", mb,
                    m -> new FMClassificationTrainer(new LogMulticlass(), new AdaGrad(LEARNING_RATE), 1, -1, m, SEED,
                            factors, 0.1)));
            table.add(new Row("fm", "LoRA r=" + rank, mb,
                    m -> TribuoPeft.lora(fmBase, lora).epochs(1).minibatchSize(m).seed(SEED)));
            table.add(new Row("fm", "warm start", mb,
                    m -> TribuoPeft.warmStart(fmBase).epochs(1).minibatchSize(m).seed(SEED)));
        }
        Map<Row, Measured> results = new LinkedHashMap<>();
        table.forEach(r -> results.put(r, new Measured()));
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (int run = 0; run < warmup + runs; run++) {
            for (int i = 0; i < table.size(); i++) {
                Row row = table.get((i + run) % table.size());
                Measured m = results.get(row);
                if (m.failure != null) {
                    continue;
                }
                Trainer<Label> trainer = row.make().apply(row.minibatch());
                System.gc();
                long bytes = threads.getCurrentThreadAllocatedBytes();
                long cpu = threads.getCurrentThreadCpuTime();
                long start = System.nanoTime();
                Model<Label> model;
                try {
                    model = trainer.train(train);
                } catch (RuntimeException e) {
                    m.failure = e.getClass().getSimpleName() + ": " + e.getMessage();
                    System.out.printf("%s %s minibatch %d failed: %s%n", row.model(), row.trainer(), row.minibatch(),
                            m.failure);
                    continue;
                }
                long nanos = System.nanoTime() - start;
                cpu = threads.getCurrentThreadCpuTime() - cpu;
                bytes = threads.getCurrentThreadAllocatedBytes() - bytes;
                if (run >= warmup) {
                    m.millis.add(nanos / 1e6);
                    m.cpuMillis.add(cpu / 1e6);
                    m.allocated.add(bytes);
                }
                if (run == warmup + runs - 1 || Double.isNaN(m.accuracy)) {
                    m.accuracy = evaluator.evaluate(model, test).accuracy();
                }
                System.out.printf(Locale.ROOT, "run %d  %-6s %-30s minibatch %2d  %8.1f ms  %7.1f MB%n", run,
                        row.model(), row.trainer(), row.minibatch(), nanos / 1e6, bytes / 1e6);
            }
        }
        write(results, linearBaseAccuracy, fmBaseAccuracy);
        return 0;
    }

    private static double median(List<Double> values) {
        double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = sorted.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private void write(Map<Row, Measured> results, double linearBaseAccuracy, double fmBaseAccuracy)
            throws java.io.IOException {
        Map<String, Measured> tribuo = new LinkedHashMap<>();
        results.forEach((row, m) -> {
            if (row.trainer().startsWith("Tribuo")) {
                tribuo.put(row.model() + "/" + row.minibatch(), m);
            }
        });
        List<Map<String, Object>> json = new ArrayList<>();
        String setting = String.format(Locale.ROOT, "%,d dense training rows of domain B (%,d test rows), %d features,"
                + " %d classes; AdaGrad %.1f, log-loss, one epoch; LoRA r=%d, alpha=%d, bias all; factorization"
                + " machines with %d factors. Median of %d interleaved runs after %d warm-up run(s).",
                rows, Math.max(rows / 5, 1000), features, classes, LEARNING_RATE, rank, rank, factors, runs, warmup);
        StringBuilder md = new StringBuilder();
        md.append("# Benchmark: peft4j's Tribuo trainers against Tribuo's own\n\n")
                .append(String.format(Locale.ROOT, "%s, %d cores, Java %s, Tribuo 4.3.2. %s%n%n", LocalDate.now(),
                        Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), setting))
                .append(String.format(Locale.ROOT, "The pretrained models (domain A) score %.4f (linear) and %.4f"
                        + " (factorization machine) on domain B before adapting.%n%n", linearBaseAccuracy,
                        fmBaseAccuracy))
                .append("| model | trainer | minibatch | epoch (ms, median) | x Tribuo's own | x Tribuo's own,"
                        + " per run | thread CPU (ms, median) | test accuracy | allocated per epoch (MB) |\n"
                        + "|---|---|---|---|---|---|---|---|---|\n");
        results.forEach((row, m) -> {
            Measured own = tribuo.get(row.model() + "/" + row.minibatch());
            double median = median(m.millis);
            double ratio = median / median(own.millis);
            List<Double> perRun = new ArrayList<>();
            for (int r = 0; r < Math.min(m.millis.size(), own.millis.size()); r++) {
                perRun.add(m.millis.get(r) / own.millis.get(r));
            }
            double allocated = m.allocated.stream().mapToLong(Long::longValue).sorted().skip(m.allocated.size() / 2)
                    .findFirst().orElse(-1) / 1e6;
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("model", row.model());
            entry.put("trainer", row.trainer());
            entry.put("minibatch", row.minibatch());
            if (m.failure != null) {
                entry.put("failure", m.failure);
                md.append(String.format(Locale.ROOT, "| %s | %s | %d | failed: %s | | | | | |%n", row.model(), row.trainer(),
                        row.minibatch(), m.failure.replace('|', '/')));
            } else {
                entry.put("epoch_ms_median", round(median, 1));
                entry.put("epoch_ms_runs", m.millis.stream().map(v -> round(v, 1)).toList());
                if (!Double.isNaN(ratio)) {
                    entry.put("ratio_to_tribuo", round(ratio, 3));
                    entry.put("ratio_to_tribuo_per_run_median", round(median(perRun), 3));
                }
                entry.put("thread_cpu_ms_median", round(median(m.cpuMillis), 1));
                entry.put("test_accuracy", round(m.accuracy, 4));
                entry.put("allocated_mb_median", round(allocated, 1));
                md.append(String.format(Locale.ROOT, "| %s | %s | %d | %.1f | %s | %s | %.1f | %.4f | %.1f |%n",
                        row.model(), row.trainer(), row.minibatch(), median, ratioText(ratio),
                        ratioText(median(perRun)), median(m.cpuMillis), m.accuracy, allocated));
            }
            json.add(entry);
        });
        md.append("\nThe time is the wall time of the whole one-epoch `train` call (building the vectors, the epoch,"
                + " building the model); \"x Tribuo's own\" divides the medians, \"per run\" is the median of the"
                + " ratios within each interleaved run (steadier when the machine is shared); the thread CPU time"
                + " leaves out the garbage collector's threads. The allocation is what the training thread allocated"
                + " during the call (`com.sun.management.ThreadMXBean.getThreadAllocatedBytes`), median over the"
                + " timed runs."
                + " Tribuo's own trainers train from scratch; LoRA and warm start continue from the pretrained"
                + " model of their kind. Tribuo 4.3.2 multiplies a minibatch's summed gradient by the minibatch"
                + " size where peft4j averages it; AdaGrad divides every step by the root of the summed squared"
                + " gradients, so the scale changes its steps only through its epsilon (1e-6).\n");
        Map<String, Object> document = new LinkedHashMap<>();
        document.put("date", LocalDate.now().toString());
        document.put("cores", Runtime.getRuntime().availableProcessors());
        document.put("java", System.getProperty("java.version"));
        document.put("setting", setting);
        document.put("rows", rows);
        document.put("features", features);
        document.put("classes", classes);
        document.put("lora_rank", rank);
        document.put("fm_factors", factors);
        document.put("minibatch_sizes", Arrays.stream(minibatches).boxed().toList());
        document.put("runs", runs);
        document.put("warmup", warmup);
        Map<String, Double> baseAccuracy = new LinkedHashMap<>();
        baseAccuracy.put("linear", round(linearBaseAccuracy, 4));
        baseAccuracy.put("fm", round(fmBaseAccuracy, 4));
        document.put("base_accuracy", baseAccuracy);
        document.put("results", json);
        Files.createDirectories(out);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("tribuo-results.json")
                .toFile(), document);
        Files.writeString(out.resolve("tribuo-results.md"), md.toString(), StandardCharsets.UTF_8);
        System.out.print(md);
    }

    /** A ratio with two decimals, or "-" when Tribuo's own row has no time to divide by. */
    private static String ratioText(double ratio) {
        return Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.2f", ratio);
    }

    private static double round(double value, int digits) {
        double scale = Math.pow(10, digits);
        return Math.round(value * scale) / scale;
    }

    /**
     * Dense Gaussian classes: class c has a mean drawn once, rows add unit-scale noise, and in
     * domain B every class mean moves along one shared direction by a class-specific amount.
     */
    private static final class Domains {
        private final double[][] means;
        private final double[] direction;
        private final double[] amount;
        private final String[] names;

        Domains(int features, int classes, SplittableRandom random) {
            means = new double[classes][features];
            direction = new double[features];
            amount = new double[classes];
            names = new String[features];
            for (int c = 0; c < classes; c++) {
                for (int d = 0; d < features; d++) {
                    means[c][d] = random.nextGaussian() * 0.15;
                }
                amount[c] = random.nextGaussian() * 3;
            }
            for (int d = 0; d < features; d++) {
                direction[d] = random.nextGaussian() / Math.sqrt(features);
                names[d] = String.format(Locale.ROOT, "f%03d", d);
            }
        }

        Dataset<Label> sample(boolean shifted, int n, long seed) {
            SplittableRandom random = new SplittableRandom(seed);
            LabelFactory factory = new LabelFactory();
            MutableDataset<Label> data = new MutableDataset<>(new SimpleDataSourceProvenance(
                    (shifted ? "domain B" : "domain A") + ", seed " + seed, factory), factory);
            for (int i = 0; i < n; i++) {
                int c = random.nextInt(means.length);
                double[] values = new double[names.length];
                for (int d = 0; d < values.length; d++) {
                    values[d] = means[c][d] + random.nextGaussian() * 0.5 + (shifted ? amount[c] * direction[d] : 0);
                }
                data.add(new ArrayExample<>(new Label("c" + c), names, values));
            }
            return data;
        }
    }
}
