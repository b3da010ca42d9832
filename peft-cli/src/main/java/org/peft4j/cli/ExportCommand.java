package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.nn.Block;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.PeftMethod;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.DecoderDirectory;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.OnnxExport;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j export OUTPUT_DIR --to DIR}: an adapter on the weights (LoRA, IA3) merged into its base (or a whole model
 * as it is) written as a model directory: {@code config.json}, {@code model.safetensors}, the
 * tokenizer ({@code tokenizer.json}, and {@code tokenizer_config.json} when the base has one) and
 * the run's record, so that the directory loads in {@code peft4j eval} and {@code predict} and
 * serves as another run's {@code model_name_or_path}. With {@code --format onnx}, a new directory
 * with {@value #ONNX_FILE} (the base's ONNX graph with the merged weights and the classifier's head,
 * see {@link OnnxExport}) and the tokenizer, for ONNX Runtime; the base must be an ONNX export.
 */
@Command(name = "export", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Merge an adapter on the weights (not prompt or prefix) into its base model and write a model directory with its tokenizer"
                + " (an embedding model: a sentence-transformers directory).")
final class ExportCommand implements Callable<Integer> {
    @Parameters(paramLabel = "OUTPUT_DIR", description = "the output_dir of peft4j train")
    private Path directory;

    @Option(names = "--to", required = true, paramLabel = "DIR", description = "where the model directory goes")
    private Path to;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "huggingface",
            description = "huggingface (a model directory, the default) or onnx (" + ONNX_FILE + " and the tokenizer,"
                    + " for ONNX Runtime; the base must be an ONNX export, such as the built-in model)")
    private Format format;

    @Mixin
    private RunOptions runOptions = new RunOptions();

    /** The ONNX model's file name in the directory {@code --format onnx} writes. */
    static final String ONNX_FILE = "model.onnx";

    /** What export writes. */
    enum Format {
        /** A Hugging Face model directory. */
        huggingface,
        /** An ONNX model and its tokenizer. */
        onnx
    }

    private final Peft4j.Console console;

    ExportCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        RunRecord run = RunRecord.resolve(directory, runOptions);
        if (run.holdsAdapter() && PeftMethods.forFinetuningType(run.finetuningType()).isPromptLearning()) {
            throw new IllegalArgumentException("only an adapter on the model's weights merges into them ("
                    + String.join(", ", mergeableTypes()) + "); a " + run.finetuningType()
                    + " adapter adds virtual tokens and must stay an adapter");
        }
        if (run.isSft()) {
            return writeDecoder(run);
        }
        if (run.isFeatureExtraction()) {
            return new EmbeddingRun(console).export(directory, run, to, format == Format.onnx);
        }
        if (TokenClassificationRun.holdsTagger(directory)) {
            throw new IllegalArgumentException(directory + " holds a TOKEN_CLS tagger, which export does not write;"
                    + " eval and predict use the directory as it is, DJL serves it (PeftCriteria), and Python's PEFT"
                    + " loads it as PeftModelForTokenClassification");
        }
        if (format == Format.onnx) {
            return writeOnnx(run);
        }
        try (TrainedModel trained = TrainedModel.load(directory, run)) {
            Block merged = trained.peft != null ? trained.peft.mergeAndUnload() : trained.classifier;
            ClassifierDirectory.save((TextClassifier) merged, run.labels(), to,
                    TokenizerFiles.read(trained.tokenizerSource));
            run.asWholeModel().write(to);
        }
        console.out().println("merged model written to " + to + " (" + ClassifierDirectory.CONFIG + ", "
                + ClassifierDirectory.WEIGHTS + ", " + TokenizerFiles.TOKENIZER + ", " + RunRecord.FILE + ")");
        return 0;
    }

    /**
     * Writes a language model's run as a complete Hugging Face directory ({@link DecoderDirectory}):
     * its adapter merged into the base, with the base's config, tokenizer and generation files.
     */
    private int writeDecoder(RunRecord run) throws IOException {
        if (format == Format.onnx) {
            throw new IllegalArgumentException("export --format onnx writes encoders; a language model's run exports"
                    + " as a Hugging Face directory (leave --format out)");
        }
        try (Model model = Model.newInstance("peft4j-export");
                SftRun.Decoder decoder = SftRun.loadRun(directory, run, model)) {
            CausalLanguageModel language = decoder.model();
            if (decoder.adapter() != null) {
                decoder.adapter().mergeAndUnload();
            }
            DecoderDirectory.save(language, decoder.directory(), to);
            run.asWholeModel().write(to);
        }
        console.out().println("merged model written to " + to + " (a Hugging Face directory: config.json,"
                + " model.safetensors, the tokenizer and generation files, " + RunRecord.FILE + ")");
        return 0;
    }

    /** Writes the merged model as {@value #ONNX_FILE} on the base's ONNX graph, with the tokenizer, into a new directory. */
    private int writeOnnx(RunRecord run) throws IOException {
        if (Files.exists(to)) {
            throw new IllegalArgumentException(to + " already exists; export --format onnx writes a new directory:"
                    + " remove it or choose another");
        }
        PretrainedEncoder graph = TrainedModel.encoder(run.modelNameOrPath());
        OnnxExport.requireOnnxSource(graph);
        try (TrainedModel trained = TrainedModel.load(directory, run)) {
            Block merged = trained.peft != null ? trained.peft.mergeAndUnload() : trained.classifier;
            Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
            TokenizerFiles.read(trained.tokenizerSource).forEach((name, bytes) -> files.put(name, out -> out.write(bytes)));
            files.put(ONNX_FILE, out -> OnnxExport.write(merged, run.labels(), graph, out));
            AtomicDirectory.write(to, files);
        }
        console.out().println("merged model written to " + to + " as ONNX (" + ONNX_FILE + ", " + TokenizerFiles.TOKENIZER
                + "; outputs " + OnnxExport.LAST_HIDDEN_STATE + " and " + OnnxExport.LOGITS + ")");
        return 0;
    }

    /** The {@code finetuning_type}s whose adapters merge: every registered method that is not prompt learning. */
    private static List<String> mergeableTypes() {
        return PeftMethods.all().stream().filter(m -> !m.isPromptLearning()).map(PeftMethod::finetuningType).toList();
    }
}
