package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.TargetModules;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.algebra.LoraDecompositionInit;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.CheckpointDirectories;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j train CONFIG.yaml}: fine-tunes as the config says and writes to its
 * {@code output_dir} the adapter (or, for full and freeze, the whole model with its tokenizer),
 * {@code trainer_log.jsonl}, {@code training_loss.png}, the best epoch's adapter in {@code best/},
 * {@code all_results.json} and {@link RunRecord#FILE}; with {@code pissa_convert}, also the PiSSA adapter
 * converted to plain LoRA in {@value #PISSA_CONVERTED}/.
 *
 * <p>Order of work: the config, the dataset and its splits, the adapters of
 * {@code adapter_name_or_path} (read and checked against the run's method), the output directory
 * (created and locked against a second run), the base model's dimensions against the config, and
 * only then training. Nothing is written for a run whose weights or outputs end up not finite.
 */
@Command(name = "train", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Fine-tune a text classifier (with task_type TOKEN_CLS a word tagger, with FEATURE_EXTRACTION"
                + " sentence embeddings) as CONFIG.yaml says (LLaMA-Factory's key names).")
final class TrainCommand implements Callable<Integer> {
    /** The sub-directory of {@code output_dir} that {@code pissa_convert} writes the converted adapter to. */
    static final String PISSA_CONVERTED = "pissa_converted";

    @Parameters(paramLabel = "CONFIG.yaml", description = "the run's settings; the keys are listed below")
    private Path config;

    private final Peft4j.Console console;

    TrainCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        ConfigFile file = ConfigFile.read(config);
        TrainArguments args = file.arguments();
        Path checkpoint = args.resumedCheckpoint();
        if (checkpoint != null && !Files.isRegularFile(checkpoint.resolve(CheckpointDirectories.STATE_FILE))) {
            throw file.error("resume_from_checkpoint", "resume_from_checkpoint " + checkpoint + " is not a checkpoint"
                    + " directory: it has no " + CheckpointDirectories.STATE_FILE + " (save_steps writes checkpoint-N"
                    + " directories into output_dir)");
        }
        if (args.isFeatureExtraction()) {
            return new EmbeddingTraining(console).run(file);
        }
        if (args.sparkMaster() != null) {
            new SparkTraining(console).run(file, args);
            return 0;
        }
        if (args.isSft()) {
            new SftRun(console).run(file, args);
            return 0;
        }
        if (args.taskType().equals("TOKEN_CLS")) {
            new TokenClassificationRun(console).run(file, args);
            return 0;
        }
        PrintStream out = console.out();
        List<LabeledText> rows = TextFiles.readRows(args.datasetFile(),
                new LabeledTexts.Columns(args.textColumn(), args.labelColumn(), args.splitColumn()));
        DataSplits splits = DataSplits.of(rows, args.valSize(), args.seed(), args.datasetFile(), out)
                .limit(args.maxSamples(), args.seed());
        List<String> labels = LabeledTexts.labels(splits.train());
        if (labels.size() < 2) {
            throw new IllegalArgumentException(args.datasetFile() + ": the training rows have one label only: " + labels);
        }
        DataSplits.requireKnownLabels(splits.dev(), labels, "the dev split of " + args.datasetFile());
        DataSplits.requireKnownLabels(splits.test(), labels, "the test split of " + args.datasetFile());
        List<AdapterCheckpoint> adapters = readAdapters(args, file);
        PretrainedEncoder encoder;
        try {
            encoder = TrainedModel.encoder(args.modelNameOrPath());
        } catch (IllegalArgumentException e) {
            throw file.error("model_name_or_path", e.getMessage());
        }
        try (OutputLock lock = OutputLock.acquire(args.outputDirectory());
                Model model = Model.newInstance("peft4j");
                BertTokenizer tokenizer = encoder.tokenizer(args.cutoffLen())) {
            TextEncoder base = encoder.loadEncoder(model.getNDManager());
            train(args, file, adapters, encoder, model, base, tokenizer, splits, labels);
        }
        return 0;
    }

    /**
     * Reads the adapters of {@code adapter_name_or_path} and checks that each fits its role: the
     * merged ones must be LoRA, the one that trains further must be of the run's method.
     *
     * @throws IllegalArgumentException naming the key's line and the directory otherwise
     */
    private static List<AdapterCheckpoint> readAdapters(TrainArguments args, ConfigFile file) {
        List<AdapterCheckpoint> out = new ArrayList<>();
        List<Path> merged = args.mergedAdapterPaths();
        for (Path dir : args.adapterPaths()) {
            AdapterCheckpoint adapter;
            try {
                adapter = AdapterCheckpoint.load(dir);
            } catch (IOException | RuntimeException e) {
                throw file.error("adapter_name_or_path", "adapter_name_or_path " + dir + " does not load: "
                        + (e instanceof NoSuchFileException missing ? missing.getFile() + " does not exist" : e.getMessage()));
            }
            String method = PeftMethods.forConfig(adapter.config()).finetuningType();
            if (merged.contains(dir) && PeftMethods.forConfig(adapter.config()).isPromptLearning()) {
                throw file.error("adapter_name_or_path", "adapter_name_or_path " + dir + " is a " + method + " adapter,"
                        + " and a prompt-learning adapter does not merge into the base's weights (with"
                        + " create_new_adapter every adapter is merged, else all but the last)");
            }
            if (!merged.contains(dir) && !method.equals(args.finetuningType())) {
                throw file.error("adapter_name_or_path", "adapter_name_or_path " + dir + " is a " + method + " adapter"
                        + " (peft_type " + adapter.config().peftType() + "), and finetuning_type is "
                        + args.finetuningType() + "; set finetuning_type: " + method + " to train it further");
            }
            out.add(adapter);
        }
        return out;
    }

    /**
     * The adapter the run trains: a new one as the arguments say, or the last of
     * {@code adapter_name_or_path}, after the others (or, with {@code create_new_adapter}, all of
     * them) are merged into the base.
     *
     * @throws IllegalArgumentException naming {@code adapter_name_or_path} if an adapter does not fit the model
     */
    private PeftModel adapter(TrainArguments args, ConfigFile file, List<AdapterCheckpoint> adapters,
            TextClassifier classifier, BertTokenizer tokenizer) {
        List<Path> paths = args.adapterPaths();
        Path resumed = args.resumedAdapterPath();
        PeftModel peft = null;
        for (int i = 0; i < paths.size(); i++) {
            try {
                peft = Peft.load(classifier, adapters.get(i), paths.get(i).toString());
            } catch (AdapterFormatException e) {
                throw file.error("adapter_name_or_path", "adapter_name_or_path " + e.getMessage());
            }
            if (!paths.get(i).equals(resumed)) {
                peft.mergeAndUnload();
                console.out().println("merged adapter " + paths.get(i) + " into the base");
            } else {
                console.out().println("training adapter " + paths.get(i) + " further");
            }
        }
        return resumed != null ? peft : Peft.apply(classifier, peftConfig(args), PeftModel.DEFAULT_ADAPTER, tokenizer);
    }

    /** The training settings the arguments name, with the checkpoints of {@code save_steps}. */
    static FineTuning.Settings settings(TrainArguments args, PrintStream progress) {
        return optimisation(args).optOutputDir(args.outputDirectory()).optProgress(progress)
                .optPlotLoss(args.plotLoss())
                .optCheckpointing(args.saveSteps() == 0 && args.resumedCheckpoint() == null ? null
                        : new CheckpointDirectories(args.outputDirectory(), args.saveSteps(), args.resumedCheckpoint()))
                .build();
    }

    /** The optimisation settings the arguments name (no output, no checkpoints), as Spark's replicas take them. */
    static FineTuning.Settings.Builder optimisation(TrainArguments args) {
        return FineTuning.Settings.builder().setEpochs(args.numTrainEpochs())
                .setBatchSize(args.perDeviceTrainBatchSize()).setLearningRate(args.learningRate().floatValue())
                .optWeightDecay(args.weightDecay().floatValue()).optWarmupRatio(args.warmupRatio().floatValue())
                .optScheduler(LearningRateSchedule.Kind.fromName(args.lrSchedulerType().equals("constant_with_warmup")
                        ? "constant" : args.lrSchedulerType()))
                .optMaxGradNorm(args.maxGradNorm().floatValue())
                .optGradientAccumulationSteps(args.gradientAccumulationSteps()).optLoggingSteps(args.loggingSteps())
                .optSeed(args.seed())
                .optLoraplusLrRatio(args.loraplusLrRatio() != null ? args.loraplusLrRatio().floatValue() : 1f);
    }

    private void train(TrainArguments args, ConfigFile file, List<AdapterCheckpoint> adapters, PretrainedEncoder encoder,
            Model model, TextEncoder base, BertTokenizer tokenizer, DataSplits splits, List<String> labels)
            throws IOException {
        PrintStream out = console.out();
        Engine.getInstance().setRandomSeed(args.seed());
        long start = System.nanoTime();
        TextClassifier classifier;
        try {
            // the family's *ForSequenceClassification head: BERT's pooler (or mean pooling), RoBERTa's, DistilBERT's
            classifier = EncoderFamilies.sequenceClassifier(base, labels.size(), args.head().recordedName(),
                    model.getNDManager());
        } catch (IllegalArgumentException e) {
            throw file.error("classifier_head", e.getMessage());
        }
        try {
            args.checkFits(classifier.maxTokens(), base.hiddenSize(), classifier.numLayers(), encoder.toString());
        } catch (TrainArguments.BadValueException e) {
            throw file.error(e.key(), e.getMessage());
        }
        out.printf(Locale.ROOT, "%s on %s: %d train, %d dev, %d test rows; labels %s%n", args.finetuningType(),
                encoder, splits.train().size(), splits.dev().size(), splits.test().size(), labels);
        model.setBlock(classifier);
        PeftModel peft = null;
        AdapterCheckpoint initialPissa = null;
        TextTraining training;
        if (args.trainsAdapter()) {
            peft = adapter(args, file, adapters, classifier, tokenizer);
            initialPissa = args.pissaConvert() ? peft.checkpoint() : null;
            training = new TextTraining(model, peft, tokenizer, labels);
        } else {
            List<Parameter> trainable = unfreeze(classifier, args);
            training = new TextTraining(model, () -> trainable, model::newTrainer, tokenizer, labels);
        }
        long trainable = 0;
        for (Pair<String, Parameter> p : classifier.getParameters()) {
            trainable += p.getValue().requiresGradient() ? p.getValue().getArray().size() : 0;
        }
        out.printf(Locale.ROOT, "trainable parameters: %,d%n", trainable);
        FineTuning.Settings settings = settings(args, console.err());
        training.fit(splits.train(), splits.dev(), settings, r -> out.println(r.hasDev()
                ? String.format(Locale.ROOT, "epoch %d: train loss %.4f, dev loss %.4f, dev accuracy %.4f (%.0f s)",
                        r.epoch(), r.meanLoss(), r.devLoss(), r.devMetric("accuracy"), r.seconds())
                : String.format(Locale.ROOT, "epoch %d: train loss %.4f (%.0f s)", r.epoch(), r.meanLoss(), r.seconds())));
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
        results.put("trainable_params", trainable);
        Metrics.put(results, "eval", training, splits.dev(), args.perDeviceTrainBatchSize(), console.err());
        Metrics.put(results, "test", training, splits.test(), args.perDeviceTrainBatchSize(), console.err());
        List<String> nonFinite = Metrics.nonFinite(results);
        if (!nonFinite.isEmpty()) {
            throw new IllegalStateException(String.format(Locale.ROOT, "training diverged: %s after training; no model"
                    + " written; lower the learning rate (learning_rate %.3g)", String.join(", ", nonFinite),
                    args.learningRate()));
        }
        Path dir = args.outputDirectory();
        RunRecord.of(args, labels).write(dir);
        if (peft != null) {
            peft.saveAdapter(dir);
            if (initialPissa != null) {
                LoraDecompositionInit.convertToLora(peft.checkpoint(), initialPissa).save(dir.resolve(PISSA_CONVERTED));
                out.println("PiSSA adapter converted to LoRA for the original base: " + dir.resolve(PISSA_CONVERTED));
            }
        } else {
            ClassifierDirectory.save(classifier, labels, dir, TokenizerFiles.read(encoder));
        }
        Metrics.write(results, dir.resolve("all_results.json"));
        if (results.containsKey("test_accuracy")) {
            out.printf(Locale.ROOT, "test accuracy %.2f%% (%d rows), macro F1 %.4f%n",
                    100 * (Double) results.get("test_accuracy"), splits.test().size(), results.get("test_f1"));
        }
        out.println((peft != null ? "adapter" : "model") + " written to " + dir);
    }

    /**
     * The adapter config of the method the arguments name; the classifier adds its head to
     * {@code modules_to_save} and its task type, as Python's PEFT does for sequence classification.
     */
    static PeftConfig peftConfig(TrainArguments args) {
        return peftConfig(args, args.loraTargets());
    }

    /** The adapter config of the method the arguments name, adapting {@code targets} ({@code all}: every linear layer). */
    static PeftConfig peftConfig(TrainArguments args, List<String> targets) {
        // the run's LLaMA-Factory keys under Hugging Face PEFT's names; the method reads the ones it has
        ObjectNode keys = JsonNodeFactory.instance.objectNode();
        keys.put("r", args.loraRank());
        keys.put("lora_alpha", args.loraAlpha());
        keys.put("lora_dropout", args.loraDropout());
        keys.put("use_dora", args.useDora());
        keys.put("use_rslora", args.useRslora());
        if (targets.equals(List.of("all"))) {
            keys.put("target_modules", TargetModules.ALL_LINEAR);
        } else {
            targets.forEach(keys.putArray("target_modules")::add);
        }
        keys.put("num_virtual_tokens", args.numVirtualTokens());
        keys.put("prefix_projection", args.prefixProjection());
        if (args.promptTuningInitText() != null) {
            keys.put("prompt_tuning_init", "TEXT");
            keys.put("prompt_tuning_init_text", args.promptTuningInitText());
        }
        keys.put("base_model_name_or_path", args.baseModelName());
        if (args.pissaInit()) {
            keys.put("init_lora_weights", args.pissaIter() == -1 ? "pissa" : "pissa_niter_" + args.pissaIter());
        }
        return PeftMethods.forFinetuningType(args.finetuningType()).fromJson(new ConfigFields(keys, "the run's config"));
    }

    /**
     * Unfreezes what {@code full} and {@code freeze} train: every parameter, or the head (such as
     * BERT's classifier and the pooler it reads) and the last {@code freeze_trainable_layers}
     * encoder layers (LLaMA-Factory's freeze tuning).
     */
    private static List<Parameter> unfreeze(TextClassifier classifier, TrainArguments args) {
        int layers = classifier.numLayers();
        int first = layers - args.freezeTrainableLayers();
        List<Parameter> trainable = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(classifier).entrySet()) {
            boolean trains = args.finetuningType().equals("full")
                    || classifier.headPaths().stream().anyMatch(head -> e.getKey().startsWith(head + "."));
            for (int l = first; l < layers && !trains; l++) {
                trains = e.getKey().startsWith(classifier.layerPath(l) + ".");
            }
            e.getValue().freeze(!trains);
            if (trains) {
                trainable.add(e.getValue());
            }
        }
        return trainable;
    }
}
