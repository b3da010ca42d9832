package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.bert.ClassifierDirectory;
import org.peft4j.djl.bert.Pooling;
import org.peft4j.djl.bert.PretrainedEncoder;

/**
 * A classifier that {@code peft4j train} wrote, loaded again for {@code eval}, {@code predict} and
 * {@code export}: the run's record ({@value #RUN_FILE}: the base model, the method, the labels, the
 * token limit, the training file and its column names), and either the adapter (lora, prefix, prompt) on a fresh copy
 * of the base model, or the whole model (full, freeze) from the output directory.
 */
final class TrainedModel implements AutoCloseable {
    /** The run's record in the output directory. */
    static final String RUN_FILE = "peft4j_run.json";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    final Model model;
    final BertSequenceClassifier classifier;
    final PeftModel peft;
    final BertTokenizer tokenizer;
    final List<String> labels;
    final String method;
    final String textColumn;
    final String labelColumn;
    final String splitColumn;
    final Path dataset;

    private TrainedModel(Model model, BertSequenceClassifier classifier, PeftModel peft, BertTokenizer tokenizer,
            List<String> labels, String method, String textColumn, String labelColumn, String splitColumn,
            Path dataset) {
        this.model = model;
        this.classifier = classifier;
        this.peft = peft;
        this.tokenizer = tokenizer;
        this.labels = labels;
        this.method = method;
        this.textColumn = textColumn;
        this.labelColumn = labelColumn;
        this.splitColumn = splitColumn;
        this.dataset = dataset;
    }

    /** Resolves {@code model_name_or_path}: the built-in default, a model directory or an ONNX file. */
    static PretrainedEncoder encoder(String modelNameOrPath) {
        if (modelNameOrPath.equalsIgnoreCase(TrainArguments.DEFAULT_MODEL)
                || modelNameOrPath.equalsIgnoreCase("sentence-transformers/" + TrainArguments.DEFAULT_MODEL)) {
            return PretrainedEncoder.ALL_MINILM_L6_V2;
        }
        Path path = Path.of(modelNameOrPath);
        if (Files.isDirectory(path)) {
            if (!Files.exists(path.resolve("tokenizer.json"))) {
                throw new IllegalArgumentException("model directory " + path + " has no tokenizer.json");
            }
            return PretrainedEncoder.huggingFace(path);
        }
        if (Files.isRegularFile(path) && path.toString().endsWith(".onnx")) {
            Path tokenizer = path.resolveSibling("tokenizer.json");
            if (!Files.exists(tokenizer)) {
                throw new IllegalArgumentException("ONNX model " + path + " needs tokenizer.json beside it");
            }
            return PretrainedEncoder.onnx(path, tokenizer);
        }
        throw new IllegalArgumentException("model_name_or_path \"" + modelNameOrPath + "\" is neither "
                + TrainArguments.DEFAULT_MODEL + " (built in), a Hugging Face model directory, nor an .onnx file;"
                + " nothing is downloaded");
    }

    /** Writes the run's record into the output directory. */
    static void writeRun(TrainArguments args, List<String> labels) throws IOException {
        ObjectNode run = JSON.createObjectNode();
        run.put("model_name_or_path", args.modelNameOrPath());
        run.put("finetuning_type", args.finetuningType());
        run.put("cutoff_len", args.cutoffLen());
        run.put("text_column", args.textColumn());
        run.put("label_column", args.labelColumn());
        run.put("split_column", args.splitColumn());
        run.put("dataset", args.dataset().toAbsolutePath().toString());
        labels.forEach(run.putArray("labels")::add);
        Files.createDirectories(args.outputDir());
        Files.writeString(args.outputDir().resolve(RUN_FILE), JSON.writeValueAsString(run));
    }

    /**
     * Loads the model trained into {@code outputDir}.
     *
     * @throws IllegalArgumentException if the directory holds no trained model
     */
    static TrainedModel load(Path outputDir) throws IOException {
        JsonNode run;
        try {
            run = JSON.readTree(Files.readString(outputDir.resolve(RUN_FILE)));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(outputDir + " holds no model trained by peft4j (no " + RUN_FILE + ")");
        }
        List<String> labels = new ArrayList<>();
        run.get("labels").forEach(l -> labels.add(l.asText()));
        String method = run.get("finetuning_type").asText();
        PretrainedEncoder encoder = encoder(run.get("model_name_or_path").asText());
        Model model = Model.newInstance("peft4j");
        try {
            BertSequenceClassifier classifier;
            PeftModel peft = null;
            if (method.equals("full") || method.equals("freeze")) {
                classifier = ClassifierDirectory.load(outputDir, model.getNDManager()).classifier();
            } else {
                classifier = new BertSequenceClassifier(encoder.load(model.getNDManager()), labels.size(), Pooling.MEAN)
                        .initializeHead(model.getNDManager());
                peft = Peft.load(classifier, outputDir);
            }
            model.setBlock(classifier);
            return new TrainedModel(model, classifier, peft, encoder.tokenizer(run.get("cutoff_len").asInt()), labels,
                    method, run.get("text_column").asText(), run.get("label_column").asText(),
                    run.get("split_column").asText(), Path.of(run.get("dataset").asText()));
        } catch (IOException | RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** The class probabilities of each text, [texts][labels], in batches of 32. */
    float[][] probabilities(List<String> texts) {
        float[][] out = new float[texts.size()][];
        try (NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < texts.size(); from += 32) {
                try (NDManager batch = scope.newSubManager()) {
                    List<String> chunk = texts.subList(from, Math.min(texts.size(), from + 32));
                    NDArray p = classifier.forward(ps, tokenizer.encode(batch, chunk), false).singletonOrThrow().softmax(1);
                    float[] flat = p.toFloatArray();
                    for (int i = 0; i < chunk.size(); i++) {
                        out[from + i] = java.util.Arrays.copyOfRange(flat, i * labels.size(), (i + 1) * labels.size());
                    }
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
    }
}
