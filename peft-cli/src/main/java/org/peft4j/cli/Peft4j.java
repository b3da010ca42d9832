package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
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
import org.peft4j.djl.bert.ClassifierDirectory;
import org.peft4j.djl.bert.Pooling;
import org.peft4j.djl.bert.PretrainedEncoder;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;

/**
 * The {@code peft4j} command: fine-tunes a text classifier from a YAML config and uses what it
 * trained.
 *
 * <pre>
 * peft4j train CONFIG.yaml                        fine-tune; writes the adapter, trainer_log.jsonl,
 *                                                 training_loss.png and all_results.json to output_dir
 * peft4j eval OUTPUT_DIR [--dataset FILE] [--split NAME]      loss, accuracy and macro F1 (default: the
 *                                                 training file's test split)
 * peft4j predict OUTPUT_DIR --input FILE [--output FILE.tsv|FILE.jsonl]   labels with probabilities
 * peft4j export OUTPUT_DIR --to DIR               merge a LoRA adapter into the base; write config.json
 *                                                 and model.safetensors
 * </pre>
 *
 * <p>Exit status: 0 on success, 2 on bad input (with a message saying what and where), 1 on any
 * other failure.
 */
public final class Peft4j {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** One JSON object per line, for JSON Lines output. */
    private static final ObjectMapper JSON_LINE = new ObjectMapper();
    private static final String USAGE = String.join("\n",
            "usage: peft4j train CONFIG.yaml",
            "       peft4j eval OUTPUT_DIR [--dataset FILE] [--split NAME]",
            "       peft4j predict OUTPUT_DIR --input FILE [--output FILE.tsv|FILE.jsonl]",
            "       peft4j export OUTPUT_DIR --to DIR",
            "config keys: " + String.join(", ", TrainArguments.knownKeys()));

    private final PrintStream out;
    private final PrintStream err;

    Peft4j(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(new Peft4j(System.out, System.err).run(args));
    }

    /** Runs one command; returns the exit status. */
    int run(String[] args) {
        if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
            out.println(USAGE);
            return args.length == 0 ? 2 : 0;
        }
        try {
            Map<String, String> options = options(args);
            switch (args[0]) {
                case "train":
                    train(TrainArguments.read(Path.of(positional(args, "CONFIG.yaml"))));
                    return 0;
                case "eval":
                    eval(Path.of(positional(args, "OUTPUT_DIR")), options.get("--dataset"), options.get("--split"));
                    return 0;
                case "predict":
                    predict(Path.of(positional(args, "OUTPUT_DIR")), required(options, "--input"), options.get("--output"));
                    return 0;
                case "export":
                    export(Path.of(positional(args, "OUTPUT_DIR")), Path.of(required(options, "--to")));
                    return 0;
                default:
                    throw new IllegalArgumentException("unknown command \"" + args[0] + "\"\n" + USAGE);
            }
        } catch (IllegalArgumentException e) {
            err.println("peft4j: " + e.getMessage());
            return 2;
        } catch (IOException | UncheckedIOException | IllegalStateException e) {
            err.println("peft4j: " + e);
            return 1;
        }
    }

    private static String positional(String[] args, String name) {
        if (args.length < 2 || args[1].startsWith("--")) {
            throw new IllegalArgumentException(args[0] + " needs " + name + "\n" + USAGE);
        }
        return args[1];
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new LinkedHashMap<>();
        for (int i = 2; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --option VALUE pairs after the first argument, got \""
                        + args[i] + "\"\n" + USAGE);
            }
            if (!List.of("--dataset", "--split", "--input", "--output", "--to").contains(args[i])) {
                throw new IllegalArgumentException("unknown option " + args[i] + "\n" + USAGE);
            }
            options.put(args[i], args[i + 1]);
        }
        return options;
    }

    private static String required(Map<String, String> options, String name) {
        String value = options.get(name);
        if (value == null) {
            throw new IllegalArgumentException("missing option " + name + "\n" + USAGE);
        }
        return value;
    }

    /** The rows of a file split into train, dev and test, by its split column or by val_size. */
    record Splits(List<LabeledText> train, List<LabeledText> dev, List<LabeledText> test) {}

    static Splits split(List<LabeledText> rows, double valSize, long seed, Path file) {
        boolean hasSplits = rows.stream().anyMatch(r -> r.split() != null);
        if (hasSplits) {
            List<LabeledText> train = new ArrayList<>();
            List<LabeledText> dev = new ArrayList<>();
            List<LabeledText> test = new ArrayList<>();
            for (LabeledText r : rows) {
                String s = r.split() == null ? "" : r.split().toLowerCase(Locale.ROOT);
                if (s.equals("train")) {
                    train.add(r);
                } else if (s.equals("dev") || s.equals("validation") || s.equals("eval")) {
                    dev.add(r);
                } else if (s.equals("test")) {
                    test.add(r);
                }
            }
            if (train.isEmpty()) {
                throw new IllegalArgumentException(file + ": the split column marks no row \"train\"");
            }
            return new Splits(train, dev, test);
        }
        List<LabeledText> shuffled = new ArrayList<>(rows);
        Collections.shuffle(shuffled, new Random(seed));
        int devSize = (int) Math.round(shuffled.size() * valSize);
        return new Splits(shuffled.subList(devSize, shuffled.size()), shuffled.subList(0, devSize), List.of());
    }

    static void requireKnownLabels(List<LabeledText> rows, List<String> labels, String where) {
        Set<String> unknown = new TreeSet<>();
        rows.forEach(r -> {
            if (!labels.contains(r.label())) {
                unknown.add(r.label());
            }
        });
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(where + " has labels the model was not trained on: " + unknown
                    + "; it knows " + labels);
        }
    }

    void train(TrainArguments args) throws IOException {
        List<LabeledText> rows = LabeledTexts.read(args.dataset(),
                new LabeledTexts.Columns(args.textColumn(), args.labelColumn(), args.splitColumn()));
        Splits splits = split(rows, args.valSize(), args.seed(), args.dataset());
        if (args.maxSamples() > 0 && args.maxSamples() < splits.train().size()) {
            List<LabeledText> sample = new ArrayList<>(splits.train());
            Collections.shuffle(sample, new Random(args.seed()));
            splits = new Splits(sample.subList(0, args.maxSamples()), splits.dev(), splits.test());
        }
        List<String> labels = LabeledTexts.labels(splits.train());
        if (labels.size() < 2) {
            throw new IllegalArgumentException(args.dataset() + ": the training rows have one label only: " + labels);
        }
        requireKnownLabels(splits.dev(), labels, "the dev split of " + args.dataset());
        requireKnownLabels(splits.test(), labels, "the test split of " + args.dataset());
        PretrainedEncoder encoder = TrainedModel.encoder(args.modelNameOrPath());
        out.printf(Locale.ROOT, "%s on %s: %d train, %d dev, %d test rows; labels %s%n", args.finetuningType(), encoder,
                splits.train().size(), splits.dev().size(), splits.test().size(), labels);
        Engine.getInstance().setRandomSeed((int) args.seed());
        long start = System.nanoTime();
        try (Model model = Model.newInstance("peft4j"); BertTokenizer tokenizer = encoder.tokenizer(args.cutoffLen())) {
            BertSequenceClassifier classifier = new BertSequenceClassifier(encoder.load(model.getNDManager()),
                    labels.size(), Pooling.MEAN).initializeHead(model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = null;
            TextTraining training;
            if (args.finetuningType().equals("full") || args.finetuningType().equals("freeze")) {
                List<Parameter> trainable = unfreeze(classifier, args);
                training = new TextTraining(model, () -> trainable, model::newTrainer, tokenizer, labels);
            } else {
                peft = Peft.apply(classifier, peftConfig(args), PeftModel.DEFAULT_ADAPTER, tokenizer);
                training = new TextTraining(model, peft, tokenizer, labels);
            }
            long trainable = 0;
            for (Pair<String, Parameter> p : classifier.getParameters()) {
                trainable += p.getValue().requiresGradient() ? p.getValue().getArray().size() : 0;
            }
            out.printf(Locale.ROOT, "trainable parameters: %,d%n", trainable);
            TextTraining.Settings settings = new TextTraining.Settings(args.numTrainEpochs(),
                    args.perDeviceTrainBatchSize(), (float) args.learningRate(), (float) args.weightDecay(),
                    (float) args.warmupRatio(), LearningRateSchedule.Kind.fromName(
                            args.lrSchedulerType().equals("constant_with_warmup") ? "constant" : args.lrSchedulerType()),
                    (float) args.maxGradNorm(), args.gradientAccumulationSteps(), args.loggingSteps(), 0, args.seed(),
                    args.outputDir(), err, args.plotLoss());
            training.fit(splits.train(), splits.dev(), settings, r -> out.printf(Locale.ROOT,
                    "epoch %d: train loss %.4f, dev loss %.4f, dev accuracy %.4f (%.0f s)%n", r.epoch(), r.meanLoss(),
                    r.devLoss(), r.devAccuracy(), r.seconds()));
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
            results.put("trainable_params", trainable);
            putEval(results, "eval", training, splits.dev(), args.perDeviceTrainBatchSize());
            putEval(results, "test", training, splits.test(), args.perDeviceTrainBatchSize());
            TrainedModel.writeRun(args, labels);
            if (peft != null) {
                peft.saveAdapter(args.outputDir());
            } else {
                ClassifierDirectory.save(classifier, labels, args.outputDir());
            }
            Files.writeString(args.outputDir().resolve("all_results.json"), JSON.writeValueAsString(results),
                    StandardCharsets.UTF_8);
            if (results.containsKey("test_accuracy")) {
                out.printf(Locale.ROOT, "test accuracy %.2f%% (%d rows), macro F1 %.4f%n",
                        100 * (Double) results.get("test_accuracy"), splits.test().size(), results.get("test_f1"));
            }
            out.println((peft != null ? "adapter" : "model") + " written to " + args.outputDir());
        }
    }

    private static void putEval(Map<String, Object> results, String prefix, TextTraining training,
            List<LabeledText> rows, int batch) {
        if (rows.isEmpty()) {
            return;
        }
        TextTraining.Evaluation e = training.evaluate(rows, batch);
        results.put(prefix + "_loss", Math.round(e.loss() * 1e4) / 1e4);
        results.put(prefix + "_accuracy", Math.round(e.metrics().accuracy() * 1e4) / 1e4);
        results.put(prefix + "_f1", Math.round(e.metrics().macroF1() * 1e4) / 1e4);
        results.put(prefix + "_samples", rows.size());
    }

    static PeftConfig peftConfig(TrainArguments args) {
        switch (args.finetuningType()) {
            case "lora":
                LoraConfig.Builder lora = LoraConfig.builder().rank(args.loraRank()).alpha((float) args.loraAlpha())
                        .dropout((float) args.loraDropout()).modulesToSave("classifier")
                        .baseModelNameOrPath(args.modelNameOrPath());
                List<String> targets = args.loraTargets();
                return (targets.equals(List.of("all")) ? lora.targetAllLinear()
                        : lora.targetModules(targets.toArray(new String[0]))).build();
            case "prefix":
                return PrefixTuningConfig.builder().numVirtualTokens(args.numVirtualTokens())
                        .prefixProjection(args.prefixProjection()).modulesToSave("classifier")
                        .baseModelNameOrPath(args.modelNameOrPath()).build();
            default:
                PromptTuningConfig.Builder prompt = PromptTuningConfig.builder().numVirtualTokens(args.numVirtualTokens())
                        .modulesToSave("classifier").baseModelNameOrPath(args.modelNameOrPath());
                if (args.promptTuningInitText() != null) {
                    prompt.initText(args.promptTuningInitText());
                }
                return prompt.build();
        }
    }

    /**
     * Unfreezes what {@code full} and {@code freeze} train: every parameter, or the head and the
     * last {@code freeze_trainable_layers} encoder layers (LLaMA-Factory's freeze tuning).
     */
    private static List<Parameter> unfreeze(BertSequenceClassifier classifier, TrainArguments args) {
        int layers = classifier.bert().config().numHiddenLayers();
        int first = Math.max(0, layers - args.freezeTrainableLayers());
        List<Parameter> trainable = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : org.peft4j.djl.StateDicts.namedParameters(classifier).entrySet()) {
            boolean trains = args.finetuningType().equals("full") || e.getKey().startsWith("classifier.");
            for (int l = first; l < layers && !trains; l++) {
                trains = e.getKey().startsWith("bert.encoder.layer." + l + ".");
            }
            e.getValue().freeze(!trains);
            if (trains) {
                trainable.add(e.getValue());
            }
        }
        return trainable;
    }

    void eval(Path outputDir, String dataset, String split) throws IOException {
        try (TrainedModel trained = TrainedModel.load(outputDir)) {
            Path file = dataset != null ? Path.of(dataset) : trained.dataset;
            List<LabeledText> rows = LabeledTexts.read(file,
                    new LabeledTexts.Columns(trained.textColumn, trained.labelColumn, trained.splitColumn));
            String wanted = split != null ? split : rows.stream().anyMatch(r -> "test".equals(r.split())) ? "test" : null;
            if (wanted != null) {
                rows = LabeledTexts.split(rows, wanted);
                if (rows.isEmpty()) {
                    throw new IllegalArgumentException(file + " has no rows in split \"" + wanted + "\"");
                }
            }
            requireKnownLabels(rows, trained.labels, file.toString());
            TextTraining training = new TextTraining(trained.model, List::of, trained.model::newTrainer,
                    trained.tokenizer, trained.labels);
            Map<String, Object> results = new LinkedHashMap<>();
            putEval(results, "eval", training, rows, 32);
            out.println(JSON.writeValueAsString(results));
        }
    }

    void predict(Path outputDir, String input, String output) throws IOException {
        try (TrainedModel trained = TrainedModel.load(outputDir)) {
            List<String> texts = LabeledTexts.readTexts(Path.of(input), trained.textColumn);
            float[][] p = trained.probabilities(texts);
            boolean jsonl = output != null && output.endsWith(".jsonl");
            StringBuilder sb = new StringBuilder();
            if (!jsonl) {
                sb.append("label");
                trained.labels.forEach(l -> sb.append("\tp_").append(l));
                sb.append('\t').append(trained.textColumn).append('\n');
            }
            for (int i = 0; i < texts.size(); i++) {
                int best = 0;
                for (int c = 1; c < p[i].length; c++) {
                    best = p[i][c] > p[i][best] ? c : best;
                }
                if (jsonl) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("label", trained.labels.get(best));
                    Map<String, Float> probabilities = new LinkedHashMap<>();
                    for (int c = 0; c < p[i].length; c++) {
                        probabilities.put(trained.labels.get(c), p[i][c]);
                    }
                    row.put("probabilities", probabilities);
                    row.put(trained.textColumn, texts.get(i));
                    sb.append(JSON_LINE.writeValueAsString(row)).append('\n');
                } else {
                    sb.append(trained.labels.get(best));
                    for (float v : p[i]) {
                        sb.append('\t').append(String.format(Locale.ROOT, "%.6f", v));
                    }
                    sb.append('\t').append(texts.get(i).replace('\t', ' ').replace('\n', ' ')).append('\n');
                }
            }
            if (output == null) {
                out.print(sb);
            } else {
                Files.writeString(Path.of(output), sb, StandardCharsets.UTF_8);
                out.println(texts.size() + " predictions written to " + output);
            }
        }
    }

    void export(Path outputDir, Path to) throws IOException {
        try (TrainedModel trained = TrainedModel.load(outputDir)) {
            if (trained.peft != null && !trained.method.equals("lora")) {
                throw new IllegalArgumentException("only a LoRA adapter merges into the weights; a " + trained.method
                        + " adapter adds virtual tokens and must stay an adapter");
            }
            Block merged = trained.peft != null ? trained.peft.mergeAndUnload() : trained.classifier;
            ClassifierDirectory.save((BertSequenceClassifier) merged, trained.labels, to);
            out.println("merged model written to " + to + " (" + ClassifierDirectory.CONFIG + ", "
                    + ClassifierDirectory.WEIGHTS + ")");
        }
    }
}
