package org.peft4j.it;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.ToDoubleFunction;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.train.ClassificationMetrics;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The benchmark: in one JVM, all-MiniLM-L6-v2 on the bundled spam data trained six ways with the
 * same batches and seed (a frozen encoder with a linear head, full fine-tuning, LoRA r=8 on query and
 * value, LoRA r=8 on every linear layer, prefix-tuning and prompt-tuning with 16 virtual tokens),
 * reporting trainable parameters, adapter size, the median update time at batch 16 x sequence 64,
 * memory, and test accuracy and F1 after the same training; then inference throughput of the base
 * model and of LoRA unmerged and merged. Writes {@code results.md} and {@code results.json}.
 *
 * <p>Options ({@code --help} lists them with their defaults): {@code --out DIR}, {@code --train-rows N},
 * {@code --epochs N}, {@code --timed-steps N} (timed after 3 warm-up updates).
 */
@Command(name = "benchmark", sortOptions = false,
        description = "Trains all-MiniLM-L6-v2 six ways on the spam data and writes results.md and results.json.")
public final class Benchmark implements Callable<Integer> {
    private static final int BATCH = 16;
    private static final int SEQUENCE = 64;
    private static final int WARMUP = 3;
    private static final int INFERENCE_ROUNDS = 9;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show the options and exit")
    private boolean help;
    @Option(names = "--out", paramLabel = "DIR", description = "where the results go (default: ${DEFAULT-VALUE})")
    private Path out = Path.of("benchmarks");
    @Option(names = "--train-rows", paramLabel = "N", description = "a seeded sample of the training rows (default: ${DEFAULT-VALUE})")
    private int trainRows = 2048;
    @Option(names = "--epochs", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int epochs = 2;
    @Option(names = "--timed-steps", paramLabel = "N", description = "updates timed per method (default: ${DEFAULT-VALUE})")
    private int timedSteps = 15;

    /** A benchmark with the default options; picocli sets the ones given. */
    Benchmark() {}

    /** Runs the benchmark; {@code --help} lists the options. Exits with 2 on bad options, 1 on a failed run. */
    public static void main(String[] args) {
        int status = new CommandLine(new Benchmark()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs every row, then the inference comparison, and writes the results. */
    @Override
    public Integer call() throws Exception {
        List<LabeledText> rows = LabeledTexts.readTsv(Path.of("data/spamassassin.tsv"));
        List<String> labels = LabeledTexts.labels(rows);
        List<LabeledText> train = new ArrayList<>(LabeledTexts.split(rows, "train"));
        Collections.shuffle(train, new Random(42));
        train = train.subList(0, Math.min(trainRows, train.size()));
        List<LabeledText> test = LabeledTexts.split(rows, "test");
        List<Map<String, Object>> results = new ArrayList<>();
        Map<String, Object> inference;
        try (BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(SpamFineTune.resource(SpamFineTune.TOKENIZER), SEQUENCE)) {
            List<LabeledText> fixedBatch = new ArrayList<>();
            for (LabeledText r : train) {
                if (fixedBatch.size() < BATCH && tokenizer.ids(r.text()).length == SEQUENCE) {
                    fixedBatch.add(r);
                }
            }
            for (String method : List.of("probe", "prompt", "prefix", "lora-qv", "lora-all", "full")) {
                results.add(runRow(method, tokenizer, labels, train, test, fixedBatch, epochs, timedSteps, out));
                System.out.println(results.get(results.size() - 1));
            }
            inference = inference(tokenizer, labels, test);
            System.out.println(inference);
        }
        write(out, results, inference, trainRows, epochs, timedSteps);
        return 0;
    }

    private static Map<String, Object> runRow(String method, BertTokenizer tokenizer, List<String> labels,
            List<LabeledText> train, List<LabeledText> test, List<LabeledText> fixedBatch, int epochs, int timedSteps,
            Path out) throws Exception {
        Engine.getInstance().setRandomSeed(42);
        System.gc();
        ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
        RssSampler rss = new RssSampler();
        rss.start();
        try (Model model = Model.newInstance(method)) {
            BertSequenceClassifier classifier = SpamFineTune.newClassifier(model.getNDManager(), labels.size());
            model.setBlock(classifier);
            TextTraining training;
            PeftModel peft = null;
            float lr;
            if (method.equals("probe") || method.equals("full")) {
                for (Pair<String, Parameter> p : classifier.getParameters()) {
                    p.getValue().freeze(method.equals("probe") && !p.getKey().contains("classifier"));
                }
                List<Parameter> trainable = new ArrayList<>();
                classifier.getParameters().forEach(p -> {
                    if (p.getValue().requiresGradient()) {
                        trainable.add(p.getValue());
                    }
                });
                training = new TextTraining(model, () -> trainable, model::newTrainer, tokenizer, labels);
                lr = method.equals("probe") ? 2e-3f : 5e-5f;
            } else {
                peft = Peft.apply(classifier, config(method), PeftModel.DEFAULT_ADAPTER, tokenizer);
                training = new TextTraining(model, peft, tokenizer, labels);
                lr = method.equals("prompt") ? 1e-2f : method.equals("prefix") ? 5e-4f : 2e-3f;
            }
            long trainableCount = 0;
            long all = 0;
            for (Pair<String, Parameter> p : classifier.getParameters()) {
                all += p.getValue().getArray().size();
                trainableCount += p.getValue().requiresGradient() ? p.getValue().getArray().size() : 0;
            }
            training.profileSteps(fixedBatch, lr, WARMUP);
            Map.Entry<List<TextTraining.StepPhases>, NativeShareProfiler.Profile> profiled =
                    NativeShareProfiler.profile(() -> training.profileSteps(fixedBatch, lr, timedSteps));
            List<TextTraining.StepPhases> phases = profiled.getKey();
            NativeShareProfiler.Profile profile = profiled.getValue();
            long heapPeak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                    heapPeak += pool.getPeakUsage().getUsed();
                }
            }
            long rssPeak = rss.finish();
            long start = System.nanoTime();
            training.fit(train, List.of(), TextTraining.Settings.builder().setEpochs(epochs).setBatchSize(BATCH)
                    .setLearningRate(lr).optWarmupRatio(0.1f).optScheduler(LearningRateSchedule.Kind.LINEAR)
                    .optSeed(42).build(), r -> { });
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            TextTraining.Evaluation eval = training.evaluate(test, 32);
            long adapterBytes = -1;
            if (peft != null) {
                Path dir = out.resolve("adapters").resolve(method);
                peft.saveAdapter(dir);
                adapterBytes = Files.size(dir.resolve("adapter_model.safetensors"));
            }
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("method", method);
            row.put("trainable_params", trainableCount);
            row.put("all_params", all);
            row.put("adapter_bytes", adapterBytes);
            row.put("median_step_ms", median(phases, TextTraining.StepPhases::totalMs));
            Map<String, Object> phaseMedians = new LinkedHashMap<>();
            phaseMedians.put("encode", median(phases, TextTraining.StepPhases::encodeMs));
            phaseMedians.put("forward", median(phases, TextTraining.StepPhases::forwardMs));
            phaseMedians.put("backward", median(phases, TextTraining.StepPhases::backwardMs));
            phaseMedians.put("clip", median(phases, TextTraining.StepPhases::clipMs));
            phaseMedians.put("update", median(phases, TextTraining.StepPhases::updateMs));
            row.put("median_phase_ms", phaseMedians);
            row.put("java_samples", profile.javaSamples());
            row.put("native_samples", profile.nativeSamples());
            row.put("java_share", round4(profile.javaShare()));
            row.put("gc_pause_ms", Math.round(profile.gcPauseMs() * 10) / 10.0);
            row.put("top_java_frames", profile.topJavaFrames());
            row.put("top_native_frames", profile.topNativeFrames());
            row.put("heap_peak_mb", heapPeak >> 20);
            row.put("rss_peak_mb", rssPeak >> 10);
            row.put("train_seconds", Math.round(trainSeconds));
            row.put("test_accuracy", round4(eval.metrics().accuracy()));
            row.put("test_macro_f1", round4(eval.metrics().macroF1()));
            return row;
        }
    }

    /** The base model's hub id, which the adapters record so that Python loads them onto the same model. */
    private static final String BASE = "sentence-transformers/all-MiniLM-L6-v2";

    /** The adapter config of each method; the classifier adds its head to modules_to_save, as PEFT does. */
    private static PeftConfig config(String method) {
        switch (method) {
            case "prompt":
                return PromptTuningConfig.builder().setNumVirtualTokens(16).optPromptTuningInitText("Is this e-mail spam or ham?")
                        .optBaseModelNameOrPath(BASE).build();
            case "prefix":
                return PrefixTuningConfig.builder().setNumVirtualTokens(16).optPrefixProjection(true)
                        .optBaseModelNameOrPath(BASE).build();
            case "lora-qv":
                return LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value")
                        .optBaseModelNameOrPath(BASE).build();
            default:
                return LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetAllLinear().optBaseModelNameOrPath(BASE).build();
        }
    }

    /**
     * Sequences per second of the base model, LoRA unmerged and LoRA merged on the same test batches:
     * two models with the same weights, measured in turn for {@value #INFERENCE_ROUNDS} rounds (after
     * one warm-up round), each round starting with another of the three; reports each one's median
     * round, the median over rounds of the ratios to the base within a round, and the ratios of the
     * fastest rounds (other work on the machine only ever slows a round down).
     */
    private static Map<String, Object> inference(BertTokenizer tokenizer, List<String> labels, List<LabeledText> test)
            throws Exception {
        List<List<String>> batches = new ArrayList<>();
        for (int from = 0; from + 32 <= Math.min(test.size(), 32 * 12); from += 32) {
            List<String> texts = new ArrayList<>();
            test.subList(from, from + 32).forEach(r -> texts.add(r.text()));
            batches.add(texts);
        }
        Map<String, List<Double>> rounds = new LinkedHashMap<>();
        try (Model baseModel = Model.newInstance("base"); Model loraModel = Model.newInstance("lora")) {
            BertSequenceClassifier base = SpamFineTune.newClassifier(baseModel.getNDManager(), labels.size());
            baseModel.setBlock(base);
            Engine.getInstance().setRandomSeed(42);
            BertSequenceClassifier withLora = SpamFineTune.newClassifier(loraModel.getNDManager(), labels.size());
            loraModel.setBlock(withLora);
            PeftModel peft = Peft.apply(withLora, LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value")
                    .optInitLoraWeights(org.peft4j.api.lora.LoraInit.RANDOM).build());
            List<String> variants = List.of("base", "lora_unmerged", "lora_merged");
            for (int round = 0; round <= INFERENCE_ROUNDS; round++) {
                boolean warmUp = round == 0;
                for (int i = 0; i < variants.size(); i++) {
                    // each round starts with another variant, so none is always first or last
                    String variant = variants.get((i + round) % variants.size());
                    double seqPerS;
                    if (variant.equals("base")) {
                        seqPerS = throughput(base, tokenizer, batches, baseModel.getNDManager());
                    } else if (variant.equals("lora_unmerged")) {
                        seqPerS = throughput(withLora, tokenizer, batches, loraModel.getNDManager());
                    } else {
                        peft.merge();
                        seqPerS = throughput(withLora, tokenizer, batches, loraModel.getNDManager());
                        peft.unmerge();
                    }
                    record(rounds, variant, warmUp, seqPerS);
                }
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("batches", batches.size());
        rounds.forEach((name, values) -> {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            out.put(name + "_seq_per_s", Math.round(sorted[sorted.length / 2] * 10) / 10.0);
        });
        // a round's ratio compares runs seconds apart, so slow drifts of the machine cancel
        out.put("merged_over_base", medianRatio(rounds.get("lora_merged"), rounds.get("base")));
        out.put("unmerged_over_base", medianRatio(rounds.get("lora_unmerged"), rounds.get("base")));
        // the fastest round of each: interference from other work only ever slows a round down
        out.put("best_merged_over_base", round4(best(rounds.get("lora_merged")) / best(rounds.get("base"))));
        out.put("best_unmerged_over_base", round4(best(rounds.get("lora_unmerged")) / best(rounds.get("base"))));
        rounds.forEach((name, values) -> out.put(name + "_rounds", values));
        return out;
    }

    private static double best(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).max().orElseThrow();
    }

    private static double medianRatio(List<Double> numerators, List<Double> denominators) {
        double[] ratios = new double[numerators.size()];
        for (int i = 0; i < ratios.length; i++) {
            ratios[i] = numerators.get(i) / denominators.get(i);
        }
        Arrays.sort(ratios);
        return round4(ratios[ratios.length / 2]);
    }

    private static void record(Map<String, List<Double>> rounds, String name, boolean warmUp, double value) {
        if (!warmUp) {
            rounds.computeIfAbsent(name, k -> new ArrayList<>()).add(Math.round(value * 10) / 10.0);
        }
    }

    /** Sequences per second of one pass over {@code batches}. */
    private static double throughput(Block block, BertTokenizer tokenizer, List<List<String>> batches, NDManager manager) {
        int sequences = 0;
        long start = System.nanoTime();
        for (List<String> texts : batches) {
            try (NDManager scope = manager.newSubManager()) {
                NDList inputs = tokenizer.encode(scope, texts);
                block.forward(new ParameterStore(scope, false), inputs, false).singletonOrThrow().toFloatArray();
                sequences += texts.size();
            }
        }
        return sequences / ((System.nanoTime() - start) / 1e9);
    }

    private static double median(List<TextTraining.StepPhases> phases,
            ToDoubleFunction<TextTraining.StepPhases> phase) {
        double[] values = phases.stream().mapToDouble(phase).sorted().toArray();
        return Math.round(values[values.length / 2] * 10) / 10.0;
    }

    private static double round4(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    private static void write(Path out, List<Map<String, Object>> rows, Map<String, Object> inference, int trainRows,
            int epochs, int timedSteps) throws IOException {
        Files.createDirectories(out);
        String machine = Runtime.getRuntime().availableProcessors() + " cores, " + cpuModel() + ", Java "
                + System.getProperty("java.version") + ", libtorch CPU via DJL " + Engine.getInstance().getVersion();
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("date", LocalDate.now().toString());
        json.put("machine", machine);
        json.put("setting", Map.of("model", "all-MiniLM-L6-v2", "train_rows", trainRows, "epochs", epochs,
                "batch", BATCH, "sequence", SEQUENCE, "timed_steps", timedSteps, "warmup_steps", WARMUP));
        json.put("rows", rows);
        json.put("inference", inference);
        Files.writeString(out.resolve("results.json"),
                new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(json), StandardCharsets.UTF_8);
        StringBuilder md = new StringBuilder();
        md.append("# Benchmark: all-MiniLM-L6-v2 on the spam data\n\n");
        md.append(String.format(Locale.ROOT, "%s, %s. %d training rows, %d epoch(s), batch %d; update time is the median"
                + " of %d updates (after %d warm-up) on one batch of %d x %d tokens.%n%n", json.get("date"), machine,
                trainRows, epochs, BATCH, timedSteps, WARMUP, BATCH, SEQUENCE));
        md.append("| method | trainable params | adapter file (bytes) | median update (ms) | peak JVM heap (MB) |"
                + " peak RSS during timing (MB) | test accuracy | test macro F1 |\n|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : rows) {
            md.append(String.format(Locale.ROOT, "| %s | %,d | %s | %s | %s | %s | %.4f | %.4f |%n", r.get("method"),
                    (Long) r.get("trainable_params"), ((Long) r.get("adapter_bytes")) < 0 ? "-" : String.format(Locale.ROOT,
                            "%,d", (Long) r.get("adapter_bytes")), r.get("median_step_ms"), r.get("heap_peak_mb"),
                    r.get("rss_peak_mb"), (Double) r.get("test_accuracy"), (Double) r.get("test_macro_f1")));
        }
        md.append("\n## Where an update's time goes\n\nMedian milliseconds per phase over the same timed updates;"
                + " the Java share is the fraction of the flight recorder's samples of the training thread that were"
                + " in Java rather than in a native (libtorch) call.\n\n| method | update | encode | forward |"
                + " backward | clip | optimizer | Java share | JFR samples | GC pauses (ms) |\n"
                + "|---|---|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : rows) {
            @SuppressWarnings("unchecked")
            Map<String, Object> p = (Map<String, Object>) r.get("median_phase_ms");
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %.1f%% | %d | %s |%n",
                    r.get("method"), r.get("median_step_ms"), p.get("encode"), p.get("forward"), p.get("backward"),
                    p.get("clip"), p.get("update"), 100 * (Double) r.get("java_share"),
                    (Integer) r.get("java_samples") + (Integer) r.get("native_samples"), r.get("gc_pause_ms")));
        }
        md.append(String.format(Locale.ROOT, "%n## Inference%n%nSequences per second over the same %s test"
                + " batches of 32, median of %d interleaved rounds: base %s, LoRA unmerged %s, LoRA merged %s."
                + " Median of the per-round ratios to the base: unmerged %.3f, merged %.3f. Fastest round of"
                + " each over the base's fastest: unmerged %.3f, merged %.3f.%n", inference.get("batches"), INFERENCE_ROUNDS,
                inference.get("base_seq_per_s"), inference.get("lora_unmerged_seq_per_s"),
                inference.get("lora_merged_seq_per_s"), (Double) inference.get("unmerged_over_base"),
                (Double) inference.get("merged_over_base"), (Double) inference.get("best_unmerged_over_base"),
                (Double) inference.get("best_merged_over_base")));
        md.append("\nRSS is sampled while a row's updates are timed; rows run in one JVM in the order shown, and"
                + " memory freed by earlier rows is not always returned to the system, so read it as an upper"
                + " bound for all rows but the first.\n");
        Files.writeString(out.resolve("results.md"), md.toString(), StandardCharsets.UTF_8);
        System.out.print(md);
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            // not Linux: leave the model out
        }
        return "unknown CPU";
    }

    /** Samples the process RSS every 20 ms and keeps the largest value, in kB. */
    private static final class RssSampler extends Thread {
        private volatile boolean running = true;
        private volatile long peak;

        RssSampler() {
            setDaemon(true);
        }

        @Override
        public void run() {
            while (running) {
                try {
                    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                        if (line.startsWith("VmRSS:")) {
                            peak = Math.max(peak, Long.parseLong(line.replaceAll("[^0-9]", "")));
                        }
                    }
                    Thread.sleep(20);
                } catch (IOException | InterruptedException e) {
                    return;
                }
            }
        }

        long finish() throws InterruptedException {
            running = false;
            join();
            return peak;
        }
    }
}
