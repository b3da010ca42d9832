package org.peft4j.it;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.LocalParameterServer;
import ai.djl.training.ParameterServer;
import ai.djl.training.ParameterStore;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
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
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import java.util.function.ToDoubleFunction;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.data.TextPair;
import org.peft4j.api.data.TextPairs;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.algebra.LoraExtraction;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.PairRankingTask;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;
import org.peft4j.djl.train.AdamW;
import org.peft4j.djl.train.ClassificationMetrics;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.GradientClipping;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TextTraining;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The benchmark: in one JVM, all-MiniLM-L6-v2 on the bundled spam data trained eight ways with the
 * same batches and seed (a frozen encoder with a linear head, full fine-tuning, LoRA r=8 on query and
 * value, LoRA r=8 on every linear layer, prefix-tuning and prompt-tuning with 16 virtual tokens, DoRA
 * r=8 on query and value, IA3 on PEFT's default BERT targets),
 * reporting trainable parameters, adapter size, the median update time at batch 16 x sequence 64,
 * memory, and test accuracy and F1 after the same training, and the update time with DJL's AdamW and
 * with peft4j's side by side; then the parts of an AdamW update of full fine-tuning, and inference
 * throughput of the base model and of LoRA unmerged and merged. The row {@value #EMBEDDINGS} trains
 * sentence embeddings instead (LoRA r=8 on query and value, the model's own mean pooling, on the
 * (subject, body) pairs of the same training rows with in-batch negatives) and reports its update
 * time on a batch of 16 pairs beside the classifier's, and the test pairs' recall@1, recall@10 and
 * MRR@10 before and after. Writes {@code results.md} and {@code results.json}.
 *
 * <p>Options ({@code --help} lists them with their defaults): {@code --out DIR}, {@code --train-rows N},
 * {@code --epochs N}, {@code --timed-steps N} (timed after 3 warm-up updates), {@code --methods LIST}
 * (a subset of the rows, for a quick look).
 */
@Command(name = "benchmark", sortOptions = false,
        description = "Trains all-MiniLM-L6-v2 eight ways on the spam data, and as a sentence embedder, and writes"
                + " results.md and results.json.")
public final class Benchmark implements Callable<Integer> {
    private static final int BATCH = 16;
    private static final int SEQUENCE = 64;
    private static final int WARMUP = 3;
    private static final int INFERENCE_ROUNDS = 9;
    /** Rounds of the side-by-side AdamW comparison; each times both implementations, first one, then the other. */
    private static final int OPTIMIZER_ROUNDS = 4;
    /** Updates timed per implementation and round, after one that allocates the moments. */
    private static final int OPTIMIZER_STEPS = 5;
    /** Rounds of the AdamW breakdown, after one that allocates the moments. */
    private static final int BREAKDOWN_ROUNDS = 7;

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
    @Option(names = "--methods", paramLabel = "LIST", split = ",",
            description = "the rows to run, of probe, prompt, prefix, lora-qv, lora-all, dora-qv, ia3, full, embeddings"
                    + " (default: all)")
    private List<String> methods = METHODS;

    /** The sentence-embedding row. */
    private static final String EMBEDDINGS = "embeddings";
    private static final List<String> METHODS = List.of("probe", "prompt", "prefix", "lora-qv", "lora-all", "dora-qv", "ia3",
            "full", EMBEDDINGS);
    /** The learning rate of the embedding row, as examples/spam-embeddings.yaml trains. */
    private static final float EMBEDDING_LEARNING_RATE = 1e-3f;
    /** The rank of the LoRA adapter extracted from the full fine-tune, after the full row. */
    private static final int EXTRACTED_RANK = 8;

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
        for (String method : methods) {
            if (!METHODS.contains(method)) {
                throw new CommandLine.ParameterException(new CommandLine(this), "--methods: no method \"" + method
                        + "\"; the methods are " + String.join(", ", METHODS));
            }
        }
        List<LabeledText> rows = LabeledTexts.readTsv(Path.of("data/spamassassin.tsv"));
        List<String> labels = LabeledTexts.labels(rows);
        List<LabeledText> train = new ArrayList<>(LabeledTexts.split(rows, "train"));
        Collections.shuffle(train, new Random(42));
        train = train.subList(0, Math.min(trainRows, train.size()));
        List<LabeledText> test = LabeledTexts.split(rows, "test");
        List<Map<String, Object>> results = new ArrayList<>();
        Map<String, Object> embeddingRow = null;
        List<Map<String, Object>> breakdown;
        Map<String, Object> inference;
        try (BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(SpamFineTune.resource(SpamFineTune.TOKENIZER), SEQUENCE)) {
            List<LabeledText> fixedBatch = new ArrayList<>();
            for (LabeledText r : train) {
                if (fixedBatch.size() < BATCH && tokenizer.ids(r.text()).length == SEQUENCE) {
                    fixedBatch.add(r);
                }
            }
            for (String method : methods) {
                if (method.equals(EMBEDDINGS)) {
                    embeddingRow = runEmbeddingRow(tokenizer, train, test, epochs, timedSteps, out);
                    System.out.println(embeddingRow);
                    continue;
                }
                results.add(runRow(method, tokenizer, labels, train, test, fixedBatch, epochs, timedSteps, out));
                System.out.println(results.get(results.size() - 1));
            }
            breakdown = optimizerBreakdown(labels.size());
            System.out.println(breakdown);
            inference = inference(tokenizer, labels, test);
            System.out.println(inference);
        }
        write(out, results, embeddingRow, breakdown, inference, trainRows, epochs, timedSteps);
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
            Map<String, Tensor> baseWeights = method.equals("full") ? weights(classifier, false) : null;
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
                PeftConfig config = config(method);
                peft = Peft.apply(classifier, config, PeftModel.DEFAULT_ADAPTER, tokenizer);
                training = new TextTraining(model, peft, tokenizer, labels);
                lr = (float) PeftMethods.forConfig(config).defaultLearningRate();
            }
            long trainableCount = 0;
            long all = 0;
            for (Pair<String, Parameter> p : classifier.getParameters()) {
                all += p.getValue().getArray().size();
                trainableCount += p.getValue().requiresGradient() ? p.getValue().getArray().size() : 0;
            }
            training.profileSteps(fixedBatch, lr, WARMUP);
            Map.Entry<List<FineTuning.StepPhases>, NativeShareProfiler.Profile> profiled =
                    NativeShareProfiler.profile(() -> training.profileSteps(fixedBatch, lr, timedSteps));
            List<FineTuning.StepPhases> phases = profiled.getKey();
            NativeShareProfiler.Profile profile = profiled.getValue();
            long heapPeak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getPeakUsage() != null) {
                    heapPeak += pool.getPeakUsage().getUsed();
                }
            }
            long rssPeak = rss.finish();
            long start = System.nanoTime();
            training.fit(train, List.of(), FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(BATCH)
                    .setLearningRate(lr).optWarmupRatio(0.1f).optScheduler(LearningRateSchedule.Kind.LINEAR)
                    .optSeed(42).build(), r -> { });
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            TextTraining.Evaluation eval = training.evaluate(test, 32);
            Map<String, Object> optimizers = compareOptimizers(training, fixedBatch, lr);
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
            row.put("median_step_ms", medianMs(phases, FineTuning.StepPhases::totalMs));
            Map<String, Object> phaseMedians = new LinkedHashMap<>();
            phaseMedians.put("encode", medianMs(phases, FineTuning.StepPhases::encodeMs));
            phaseMedians.put("forward", medianMs(phases, FineTuning.StepPhases::forwardMs));
            phaseMedians.put("backward", medianMs(phases, FineTuning.StepPhases::backwardMs));
            phaseMedians.put("clip", medianMs(phases, FineTuning.StepPhases::clipMs));
            phaseMedians.put("update", medianMs(phases, FineTuning.StepPhases::updateMs));
            row.put("median_phase_ms", phaseMedians);
            row.put("clip_share", round4(median(phases, p -> p.clipMs() / p.totalMs())));
            row.put("optimizer_share", round4(median(phases, p -> p.updateMs() / p.totalMs())));
            row.put("adamw_side_by_side", optimizers);
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
            if (baseWeights != null) {
                row.put("extracted_lora_r" + EXTRACTED_RANK, extractedLora(baseWeights, weights(classifier, true),
                        tokenizer, labels, test));
            }
            return row;
        }
    }

    /**
     * The sentence-embedding row: all-MiniLM-L6-v2 with its own pooling (mean, normalised) and LoRA
     * r=8 on query and value, trained on the (subject, body) pairs of the training rows with in-batch
     * negatives ({@link PairRankingTask}) for as many epochs as the other rows, at batch
     * {@value #BATCH} and {@link #EMBEDDING_LEARNING_RATE}; its updates timed on one batch of
     * {@value #BATCH} pairs whose bodies fill {@value #SEQUENCE} tokens, after the same warm-up; the
     * test pairs' retrieval (each subject searching all test bodies) before and after training.
     */
    private static Map<String, Object> runEmbeddingRow(BertTokenizer tokenizer, List<LabeledText> train,
            List<LabeledText> test, int epochs, int timedSteps, Path out) throws Exception {
        Engine.getInstance().setRandomSeed(42);
        System.gc();
        List<TextPair> trainPairs = TextPairs.splitEach(train, " | ");
        List<TextPair> testPairs = TextPairs.splitEach(test, " | ");
        List<TextPair> fixedBatch = new ArrayList<>();
        for (TextPair p : trainPairs) {
            if (fixedBatch.size() < BATCH && tokenizer.ids(p.positive()).length == SEQUENCE) {
                fixedBatch.add(p);
            }
        }
        try (Model model = Model.newInstance(EMBEDDINGS)) {
            SentenceEmbedder embedder = new SentenceEmbedder(PretrainedEncoder.ALL_MINILM_L6_V2.load(model.getNDManager()),
                    EmbeddingPooling.MEAN_NORMALIZED);
            model.setBlock(embedder);
            PeftModel peft = Peft.apply(embedder, config("lora-qv"), PeftModel.DEFAULT_ADAPTER, tokenizer);
            FineTuning<TextPair> run = new FineTuning<>(model, peft, new PairRankingTask(tokenizer));
            TaskEvaluation base;
            try (PeftModel.Scope off = peft.disableAdapters()) {
                base = run.evaluate(testPairs, 32);
            }
            run.profileSteps(fixedBatch, EMBEDDING_LEARNING_RATE, WARMUP);
            List<FineTuning.StepPhases> phases = run.profileSteps(fixedBatch, EMBEDDING_LEARNING_RATE, timedSteps);
            long start = System.nanoTime();
            run.fit(trainPairs, List.of(), FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(BATCH)
                    .setLearningRate(EMBEDDING_LEARNING_RATE).optWarmupRatio(0.1f)
                    .optScheduler(LearningRateSchedule.Kind.LINEAR).optSeed(42).build(), r -> { });
            double trainSeconds = (System.nanoTime() - start) / 1e9;
            TaskEvaluation tuned = run.evaluate(testPairs, 32);
            Path dir = out.resolve("adapters").resolve(EMBEDDINGS);
            peft.saveAdapter(dir);
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("method", EMBEDDINGS + "-lora-qv");
            row.put("trainable_params", peft.trainableParameters().trainable());
            row.put("adapter_bytes", Files.size(dir.resolve("adapter_model.safetensors")));
            row.put("median_step_ms", medianMs(phases, FineTuning.StepPhases::totalMs));
            Map<String, Object> phaseMedians = new LinkedHashMap<>();
            phaseMedians.put("encode", medianMs(phases, FineTuning.StepPhases::encodeMs));
            phaseMedians.put("forward", medianMs(phases, FineTuning.StepPhases::forwardMs));
            phaseMedians.put("backward", medianMs(phases, FineTuning.StepPhases::backwardMs));
            phaseMedians.put("clip", medianMs(phases, FineTuning.StepPhases::clipMs));
            phaseMedians.put("update", medianMs(phases, FineTuning.StepPhases::updateMs));
            row.put("median_phase_ms", phaseMedians);
            row.put("train_pairs", trainPairs.size());
            row.put("epochs", epochs);
            row.put("test_pairs", testPairs.size());
            row.put("train_seconds", Math.round(trainSeconds));
            base.metrics().forEach((name, value) -> row.put("base_test_" + name, round4(value)));
            tuned.metrics().forEach((name, value) -> row.put("test_" + name, round4(value)));
            return row;
        }
    }

    /**
     * The classifier's weights under their Hugging Face names; without the head (the classifier and
     * the pooler the bundled encoder lacks) unless {@code withHead}, so that an extraction against
     * them saves the head whole.
     */
    private static Map<String, Tensor> weights(BertSequenceClassifier classifier, boolean withHead) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        StateDicts.namedParameters(classifier).forEach((name, p) -> {
            boolean head = classifier.headModules().stream()
                    .anyMatch(h -> name.startsWith(h + ".") || name.contains("." + h + "."));
            if (withHead || !head) {
                out.put(name, TensorConversions.toTensor(p.getArray()));
            }
        });
        return out;
    }

    /**
     * A LoRA adapter of rank {@value #EXTRACTED_RANK} extracted from the full fine-tune
     * ({@link LoraExtraction}: the SVD of W_tuned − W_base of every encoder linear layer, the head
     * saved whole; embeddings, biases and layer norms keep their base values), put on a fresh
     * classifier and scored on the test rows: how much of full fine-tuning's accuracy it keeps.
     */
    private static Map<String, Object> extractedLora(Map<String, Tensor> base, Map<String, Tensor> tuned,
            BertTokenizer tokenizer, List<String> labels, List<LabeledText> test) throws IOException {
        long start = System.nanoTime();
        AdapterCheckpoint adapter = LoraExtraction.builder().setBase(base).setTuned(tuned).setRank(EXTRACTED_RANK)
                .optTaskType(TaskType.SEQ_CLS).build().extract();
        double seconds = (System.nanoTime() - start) / 1e9;
        try (Model model = Model.newInstance("extracted")) {
            BertSequenceClassifier classifier = SpamFineTune.newClassifier(model.getNDManager(), labels.size());
            model.setBlock(classifier);
            PeftModel peft = Peft.load(classifier, adapter, "the full fine-tune, extracted at r=" + EXTRACTED_RANK);
            TextTraining.Evaluation eval = new TextTraining(model, peft, tokenizer, labels).evaluate(test, 32);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("lora_params", adapter.tensors().entrySet().stream().filter(e -> e.getKey().contains(".lora_"))
                    .mapToLong(e -> e.getValue().elementCount()).sum());
            out.put("adapter_bytes", (long) adapter.weightBytes().length);
            out.put("extraction_seconds", Math.round(seconds * 10) / 10.0);
            out.put("test_accuracy", round4(eval.metrics().accuracy()));
            out.put("test_macro_f1", round4(eval.metrics().macroF1()));
            return out;
        }
    }

    /** One timed part of an AdamW update in {@link #optimizerBreakdown}. */
    private record Part(String name, Consumer<List<Parameter>> run) {}

    /**
     * Where an AdamW update of full fine-tuning spends its time, part by part, on the model's own
     * weight arrays with gradients from a backward pass of sum(w·r) for fixed random r: DJL's step
     * as {@code Trainer.step()} runs it, its gradient copies alone, DJL's native update without
     * them, peft4j's {@link AdamW}, a pass that allocates a new array per weight array and one in
     * place, and clipping as it was (squares summed, then every gradient scaled) and as it is (the
     * norm only). Each part runs once in each of {@value #BREAKDOWN_ROUNDS} rounds, in turn, after
     * a fresh backward pass; returns the median wall time and minor page faults of each.
     */
    private static List<Map<String, Object>> optimizerBreakdown(int labels) throws IOException {
        Tracker rate = Tracker.fixed(5e-5f);
        try (Model model = Model.newInstance("breakdown");
                AdamW peft4j = AdamW.builder().optLearningRateTracker(rate).build()) {
            BertSequenceClassifier classifier = SpamFineTune.newClassifier(model.getNDManager(), labels);
            List<Parameter> parameters = new ArrayList<>();
            NDList random = new NDList();
            for (Pair<String, Parameter> p : classifier.getParameters()) {
                NDArray weights = p.getValue().getArray();
                weights.setRequiresGradient(true);
                parameters.add(p.getValue());
                random.add(model.getNDManager().randomNormal(0, 1e-3f, weights.getShape(), DataType.FLOAT32));
            }
            ParameterServer server = new LocalParameterServer(Optimizer.adamW().optLearningRateTracker(rate).build());
            Optimizer direct = Optimizer.adamW().optLearningRateTracker(rate).build();
            List<Part> parts = List.of(
                    new Part("DJL's AdamW as Trainer.step() runs it: a copy of each gradient, then DJL's native update",
                            ps -> ps.forEach(p -> server.update(p.getId(), new NDArray[] {p.getArray()}))),
                    new Part("&nbsp;&nbsp;the copies of the gradients alone", ps -> ps.forEach(p -> {
                        try (NDArray g = p.getArray().getGradient(); NDArray copy = g.duplicate()) {
                            copy.getShape();
                        }
                    })),
                    new Part("&nbsp;&nbsp;DJL's native update alone, on whole arrays", ps -> ps.forEach(p -> {
                        try (NDArray g = p.getArray().getGradient()) {
                            direct.update(p.getId(), p.getArray(), g);
                        }
                    })),
                    new Part("peft4j's AdamW: the same native update, on pieces of at most "
                            + String.format(Locale.ROOT, "%,d", 1 << 18) + " weights", ps -> peft4j.step(ps, 1f)),
                    new Part("for scale: one pass that writes a new array per gradient", ps -> ps.forEach(p -> {
                        try (NDArray g = p.getArray().getGradient(); NDArray copy = g.mul(1f)) {
                            copy.getShape();
                        }
                    })),
                    new Part("for scale: one pass in place per gradient", ps -> ps.forEach(p -> {
                        try (NDArray g = p.getArray().getGradient()) {
                            g.muli(1f);
                        }
                    })),
                    new Part("clipping as it was: squares summed per gradient, then every gradient scaled",
                            Benchmark::clipAsBefore),
                    new Part("clipping now: the global norm only (its scale is part of the optimizer step)",
                            GradientClipping::globalNorm));
            Map<String, List<double[]>> timed = new LinkedHashMap<>();
            for (int round = 0; round <= BREAKDOWN_ROUNDS; round++) {
                for (Part part : parts) {
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector();
                            NDManager scope = model.getNDManager().newSubManager()) {
                        NDArray loss = null;
                        for (int i = 0; i < parameters.size(); i++) {
                            NDArray product = parameters.get(i).getArray().mul(random.get(i));
                            product.attach(scope);
                            NDArray sum = product.sum();
                            sum.attach(scope);
                            loss = loss == null ? sum : loss.add(sum);
                        }
                        collector.backward(loss);
                    }
                    long faults = minorFaults();
                    long start = System.nanoTime();
                    part.run().accept(parameters);
                    double ms = (System.nanoTime() - start) / 1e6;
                    if (round > 0) { // round 0 allocates the optimizers' moments
                        timed.computeIfAbsent(part.name(), k -> new ArrayList<>()).add(new double[] {ms, minorFaults() - faults});
                    }
                }
            }
            List<Map<String, Object>> out = new ArrayList<>();
            timed.forEach((name, values) -> {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("part", name);
                row.put("median_ms", Math.round(medianOf(values, 0) * 10) / 10.0);
                row.put("median_page_faults", Math.round(medianOf(values, 1)));
                out.add(row);
            });
            return out;
        }
    }

    /** The clipping TextTraining did before AdamW: each gradient's squares summed, then each gradient scaled. */
    private static void clipAsBefore(List<Parameter> parameters) {
        NDList sums = new NDList();
        for (Parameter p : parameters) {
            try (NDArray g = p.getArray().getGradient(); NDArray squares = g.square()) {
                sums.add(squares.sum());
            }
        }
        double norm;
        try (NDArray stacked = NDArrays.stack(sums); NDArray total = stacked.sum()) {
            norm = Math.sqrt(total.getFloat());
        } finally {
            sums.close();
        }
        float scale = GradientClipping.coefficient(norm, norm / 2); // always scales, as a clipped update does
        for (Parameter p : parameters) {
            try (NDArray g = p.getArray().getGradient()) {
                g.muli(scale);
            }
        }
    }

    private static double medianOf(List<double[]> values, int column) {
        double[] sorted = values.stream().mapToDouble(v -> v[column]).sorted().toArray();
        return sorted[sorted.length / 2];
    }

    /** The process's minor page faults so far (Linux), or 0 where /proc/self/stat is missing. */
    private static long minorFaults() {
        try {
            String stat = Files.readString(Path.of("/proc/self/stat"));
            // the fields after the command name in parentheses; minflt is the 10th field overall
            return Long.parseLong(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[7]);
        } catch (IOException e) {
            return 0;
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
            case "ia3":
                return Ia3Config.builder().setDefaultTargetModules("bert").optBaseModelNameOrPath(BASE).build();
            case "dora-qv":
                return LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").optUseDora(true)
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

    /** The median over the updates of {@code phase} in milliseconds, to 0.1 ms. */
    private static double medianMs(List<FineTuning.StepPhases> phases,
            ToDoubleFunction<FineTuning.StepPhases> phase) {
        return Math.round(median(phases, phase) * 10) / 10.0;
    }

    private static double median(List<FineTuning.StepPhases> phases, ToDoubleFunction<FineTuning.StepPhases> value) {
        double[] values = phases.stream().mapToDouble(value).sorted().toArray();
        return values[values.length / 2];
    }

    /**
     * Times updates with DJL's AdamW and with peft4j's on the same model and batch, in
     * {@value #OPTIMIZER_ROUNDS} rounds that each run both (which first alternates), each run
     * {@value #OPTIMIZER_STEPS} timed updates after one that allocates the moments; returns each
     * implementation's median update, clipping and optimizer phase and the optimizer and clipping
     * share of the update. Runs after training, so that its updates change no reported accuracy.
     */
    private static Map<String, Object> compareOptimizers(TextTraining training, List<LabeledText> batch, float lr) {
        Map<FineTuning.AdamWImplementation, List<FineTuning.StepPhases>> timed =
                new EnumMap<>(FineTuning.AdamWImplementation.class);
        FineTuning.AdamWImplementation[] order = FineTuning.AdamWImplementation.values();
        for (int round = 0; round < OPTIMIZER_ROUNDS; round++) {
            for (int i = 0; i < order.length; i++) {
                FineTuning.AdamWImplementation implementation = order[(i + round) % order.length];
                List<FineTuning.StepPhases> phases = training.profileSteps(batch, lr, 1 + OPTIMIZER_STEPS, implementation);
                timed.computeIfAbsent(implementation, k -> new ArrayList<>()).addAll(phases.subList(1, phases.size()));
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        timed.forEach((implementation, phases) -> {
            Map<String, Object> medians = new LinkedHashMap<>();
            medians.put("update_ms", medianMs(phases, FineTuning.StepPhases::totalMs));
            medians.put("clip_ms", medianMs(phases, FineTuning.StepPhases::clipMs));
            medians.put("optimizer_ms", medianMs(phases, FineTuning.StepPhases::updateMs));
            medians.put("clip_and_optimizer_share", round4(median(phases, p -> (p.clipMs() + p.updateMs()) / p.totalMs())));
            medians.put("updates", phases.size());
            out.put(implementation.name().toLowerCase(Locale.ROOT), medians);
        });
        return out;
    }

    private static double round4(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    private static void write(Path out, List<Map<String, Object>> rows, Map<String, Object> embeddingRow,
            List<Map<String, Object>> breakdown, Map<String, Object> inference, int trainRows, int epochs, int timedSteps)
            throws IOException {
        Files.createDirectories(out);
        String machine = Runtime.getRuntime().availableProcessors() + " cores, " + cpuModel() + ", Java "
                + System.getProperty("java.version") + ", libtorch CPU via DJL " + Engine.getInstance().getVersion();
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("date", LocalDate.now().toString());
        json.put("machine", machine);
        json.put("setting", Map.of("model", "all-MiniLM-L6-v2", "train_rows", trainRows, "epochs", epochs,
                "batch", BATCH, "sequence", SEQUENCE, "timed_steps", timedSteps, "warmup_steps", WARMUP));
        json.put("rows", rows);
        if (embeddingRow != null) {
            json.put("embeddings", embeddingRow);
        }
        json.put("adamw_breakdown", breakdown);
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
        for (Map<String, Object> r : rows) {
            @SuppressWarnings("unchecked")
            Map<String, Object> x = (Map<String, Object>) r.get("extracted_lora_r" + EXTRACTED_RANK);
            if (x != null) {
                md.append(String.format(Locale.ROOT, "%nThe full fine-tune extracted as a LoRA adapter of rank %d (the SVD"
                        + " of W_tuned - W_base of each encoder linear layer, the head saved whole; %,d LoRA parameters,"
                        + " %,d bytes, %.1f s): test accuracy %.4f (full: %.4f), macro F1 %.4f.%n", EXTRACTED_RANK,
                        (Long) x.get("lora_params"), (Long) x.get("adapter_bytes"), (Double) x.get("extraction_seconds"),
                        (Double) x.get("test_accuracy"), (Double) r.get("test_accuracy"), (Double) x.get("test_macro_f1")));
            }
        }
        if (embeddingRow != null) {
            md.append(embeddingSection(embeddingRow, rows));
        }
        md.append("\n## Where an update's time goes\n\nMedian milliseconds per phase over the same timed updates;"
                + " the Java share is the fraction of the flight recorder's samples of the training thread that were"
                + " in Java rather than in a native (libtorch) call. The optimizer is peft4j's AdamW (weight decay"
                + " 0.01), whose step also scales the gradients by the clipping coefficient, so that clipping is"
                + " only the global norm; the shares are medians over the updates of each phase's part of the"
                + " update.\n\n| method | update | encode | forward | backward | clip | optimizer | clip share |"
                + " optimizer share | Java share | JFR samples | GC pauses (ms) |\n"
                + "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Map<String, Object> r : rows) {
            @SuppressWarnings("unchecked")
            Map<String, Object> p = (Map<String, Object>) r.get("median_phase_ms");
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %.1f%% | %.1f%% | %.1f%% | %d | %s |%n",
                    r.get("method"), r.get("median_step_ms"), p.get("encode"), p.get("forward"), p.get("backward"),
                    p.get("clip"), p.get("update"), 100 * (Double) r.get("clip_share"),
                    100 * (Double) r.get("optimizer_share"), 100 * (Double) r.get("java_share"),
                    (Integer) r.get("java_samples") + (Integer) r.get("native_samples"), r.get("gc_pause_ms")));
        }
        md.append(String.format(Locale.ROOT, "%n## AdamW: DJL's and peft4j's, side by side%n%nThe same model and batch"
                + " after training, in %d rounds that each time %d updates with DJL's AdamW (`Optimizer.adamW()`"
                + " through `Trainer.step()`, after the gradients were clipped in place) and %d with peft4j's"
                + " (`AdamW`, the same arithmetic and the same weights, bit for bit), which one runs first"
                + " alternating; medians in milliseconds, and of clipping plus optimizer as a share of the"
                + " update.%n%n| method | update, DJL | update, peft4j | clip + optimizer, DJL |"
                + " clip + optimizer, peft4j | share, DJL | share, peft4j |%n|---|---|---|---|---|---|---|%n",
                OPTIMIZER_ROUNDS, OPTIMIZER_STEPS, OPTIMIZER_STEPS));
        for (Map<String, Object> r : rows) {
            @SuppressWarnings("unchecked")
            Map<String, Map<String, Object>> sides = (Map<String, Map<String, Object>>) r.get("adamw_side_by_side");
            Map<String, Object> djl = sides.get("djl");
            Map<String, Object> ours = sides.get("peft4j");
            md.append(String.format(Locale.ROOT, "| %s | %s | %s | %.1f | %.1f | %.1f%% | %.1f%% |%n", r.get("method"),
                    djl.get("update_ms"), ours.get("update_ms"),
                    (Double) djl.get("clip_ms") + (Double) djl.get("optimizer_ms"),
                    (Double) ours.get("clip_ms") + (Double) ours.get("optimizer_ms"),
                    100 * (Double) djl.get("clip_and_optimizer_share"), 100 * (Double) ours.get("clip_and_optimizer_share")));
        }
        md.append(String.format(Locale.ROOT, "%n## Where an AdamW update of full fine-tuning goes%n%nThe parts of one"
                + " update of all of all-MiniLM-L6-v2's weight arrays, on the model's own arrays with gradients from"
                + " a backward pass, each part run once in each of %d rounds in turn; medians of the wall time and of"
                + " the minor page faults (memory the kernel maps in afresh) per update.%n%n| part | ms |"
                + " page faults |%n|---|---|---|%n", BREAKDOWN_ROUNDS));
        for (Map<String, Object> part : breakdown) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %,d |%n", part.get("part"), part.get("median_ms"),
                    (Long) part.get("median_page_faults")));
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

    /** The results.md section of the embedding row, its update time beside the classifier's LoRA row when there is one. */
    private static String embeddingSection(Map<String, Object> e, List<Map<String, Object>> rows) {
        @SuppressWarnings("unchecked")
        Map<String, Object> p = (Map<String, Object>) e.get("median_phase_ms");
        String beside = rows.stream().filter(r -> r.get("method").equals("lora-qv")).findFirst()
                .map(r -> String.format(Locale.ROOT, "; the classifier's lora-qv update on %d x %d tokens: %s ms, so %.2f x"
                        + " (a pair is two sequences)", BATCH, SEQUENCE, r.get("median_step_ms"),
                        (Double) e.get("median_step_ms") / (Double) r.get("median_step_ms"))).orElse("");
        return String.format(Locale.ROOT, "%n## Sentence embeddings%n%nLoRA r=8 on query and value of all-MiniLM-L6-v2"
                + " with its own pooling (mean, normalised), trained on the (subject, body) pairs of the same training"
                + " rows (%,d pairs) with in-batch negatives (MultipleNegativesRankingLoss, scale 20), batch %d, learning"
                + " rate %s, %d epoch(s) in %d s; %,d trainable parameters, an adapter of %,d bytes. Median update on %d"
                + " pairs whose bodies fill %d tokens: %s ms (encode %s, forward %s, backward %s, clip %s, optimizer"
                + " %s)%s. Each of the %,d test subjects searches all test bodies:%n%n| | recall@1 | recall@10 |"
                + " MRR@10 |%n|---|---|---|---|%n| base model | %.4f | %.4f | %.4f |%n| LoRA | %.4f | %.4f | %.4f |%n",
                (Integer) e.get("train_pairs"), BATCH, EMBEDDING_LEARNING_RATE, (Integer) e.get("epochs"),
                (Long) e.get("train_seconds"), (Long) e.get("trainable_params"), (Long) e.get("adapter_bytes"), BATCH,
                SEQUENCE, e.get("median_step_ms"), p.get("encode"), p.get("forward"), p.get("backward"),
                p.get("clip"), p.get("update"), beside, (Integer) e.get("test_pairs"), (Double) e.get("base_test_recall@1"),
                (Double) e.get("base_test_recall@10"), (Double) e.get("base_test_mrr@10"), (Double) e.get("test_recall@1"),
                (Double) e.get("test_recall@10"), (Double) e.get("test_mrr@10"));
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
