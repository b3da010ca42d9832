package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.OnnxExport;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * {@code peft4j export --format onnx} on an adapter directory laid out as {@code peft4j train}
 * writes it (a random LoRA on the built-in all-MiniLM-L6-v2, so no training is needed): ONNX
 * Runtime's probabilities equal the command's own, a merged Hugging Face export re-exported as
 * ONNX gives the same, and what cannot be exported is refused with exit status 2.
 */
class ExportOnnxCommandTest {
    private static final List<String> TEXTS = List.of("WIN a FREE cruise!!! Click now to claim your prize",
            "Minutes of Tuesday's meeting attached, comments welcome", "ok");

    @TempDir
    static Path dir;
    static Path lora;
    static RunRecord record;

    @BeforeAll
    static void writeRuns() throws Exception {
        lora = dir.resolve("lora");
        record = new RunRecord(TrainArguments.DEFAULT_MODEL, "lora", 32, "text", "label", "split", null,
                List.of("ham", "spam"), 42L, List.of());
        try (Model model = Model.newInstance("export-test")) {
            NDManager manager = model.getNDManager();
            BertSequenceClassifier classifier = new BertSequenceClassifier(
                    PretrainedEncoder.ALL_MINILM_L6_V2.load(manager), 2).initializeHead(manager);
            Peft.apply(classifier, LoraConfig.builder().optR(4).optLoraAlpha(8f).optInitLoraWeights(LoraInit.RANDOM)
                    .setTargetModules("query", "value").build()).saveAdapter(lora);
            record.write(lora);

            Path prompt = dir.resolve("prompt");
            BertSequenceClassifier other = new BertSequenceClassifier(
                    PretrainedEncoder.ALL_MINILM_L6_V2.load(manager), 2).initializeHead(manager);
            Peft.apply(other, PromptTuningConfig.builder().setNumVirtualTokens(2).build()).saveAdapter(prompt);
            new RunRecord(TrainArguments.DEFAULT_MODEL, "prompt", 32, "text", "label", "split", null,
                    List.of("ham", "spam"), 42L, List.of()).write(prompt);
        }
    }

    @Test
    void theOnnxModelGivesTheCommandsProbabilities() throws Exception {
        Path onnx = dir.resolve("onnx");
        Peft4jCommandTest.Result result = Peft4jCommandTest.run("export", lora.toString(), "--to", onnx.toString(),
                "--format", "onnx");
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out()).contains("as ONNX");
        assertThat(onnx.resolve(ExportCommand.ONNX_FILE)).exists();
        assertThat(onnx.resolve(TokenizerFiles.TOKENIZER)).exists();

        // a whole model (the default export) goes through the same base graph
        Path huggingFace = dir.resolve("hf");
        assertThat(Peft4jCommandTest.run("export", lora.toString(), "--to", huggingFace.toString()).status()).isZero();
        Path onnxOfWhole = dir.resolve("onnx-of-whole");
        Peft4jCommandTest.Result whole = Peft4jCommandTest.run("export", huggingFace.toString(), "--to",
                onnxOfWhole.toString(), "--format", "onnx");
        assertThat(whole.status()).as(whole.err()).isZero();

        try (TrainedModel trained = TrainedModel.load(lora, record); NDManager manager = NDManager.newBaseManager()) {
            float[][] expected = trained.probabilities(TEXTS, null);
            NDList inputs = trained.tokenizer.encode(manager, TEXTS);
            for (Path file : List.of(onnx.resolve(ExportCommand.ONNX_FILE), onnxOfWhole.resolve(ExportCommand.ONNX_FILE))) {
                float[][] logits = logits(file, inputs);
                double worst = 0;
                for (int i = 0; i < TEXTS.size(); i++) {
                    double[] p = softmax(logits[i]);
                    for (int j = 0; j < p.length; j++) {
                        worst = Math.max(worst, Math.abs(p[j] - expected[i][j]));
                    }
                }
                System.out.printf("%s: ONNX Runtime vs peft4j probabilities: max difference %.3g%n",
                        dir.relativize(file), worst);
                assertThat(worst).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    @Test
    void refusesWhatItCannotExport() throws Exception {
        Path taken = Files.createDirectories(dir.resolve("taken"));
        Peft4jCommandTest.Result exists = Peft4jCommandTest.run("export", lora.toString(), "--to", taken.toString(),
                "--format", "onnx");
        assertThat(exists.status()).isEqualTo(2);
        assertThat(exists.err()).contains(taken + " already exists");

        Peft4jCommandTest.Result prompt = Peft4jCommandTest.run("export", dir.resolve("prompt").toString(), "--to",
                dir.resolve("prompt-onnx").toString(), "--format", "onnx");
        assertThat(prompt.status()).isEqualTo(2);
        assertThat(prompt.err()).contains("a prompt adapter adds virtual tokens and must stay an adapter");

        // a model directory that peft4j did not train has no ONNX graph to write into
        Path foreign = dir.resolve("foreign");
        assertThat(Peft4jCommandTest.run("export", lora.toString(), "--to", foreign.toString()).status()).isZero();
        Files.delete(foreign.resolve(RunRecord.FILE));
        Peft4jCommandTest.Result notOnnx = Peft4jCommandTest.run("export", foreign.toString(), "--to",
                dir.resolve("foreign-onnx").toString(), "--format", "onnx");
        assertThat(notOnnx.status()).isEqualTo(2);
        assertThat(notOnnx.err()).contains("is a Hugging Face model directory, not an ONNX export");
        assertThat(dir.resolve("foreign-onnx")).doesNotExist();
        assertThat(dir.resolve("prompt-onnx")).doesNotExist();
    }

    private static float[][] logits(Path file, NDList inputs) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession session = env.createSession(file.toString(), new OrtSession.SessionOptions());
                OnnxTensor ids = tensor(env, inputs.get(0));
                OnnxTensor mask = tensor(env, inputs.get(1));
                OnnxTensor types = tensor(env, inputs.get(2));
                OrtSession.Result result = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                        "token_type_ids", types))) {
            return (float[][]) result.get(OnnxExport.LOGITS).orElseThrow().getValue();
        }
    }

    private static OnnxTensor tensor(OrtEnvironment env, NDArray a) throws Exception {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(a.toLongArray()), a.getShape().getShape());
    }

    private static double[] softmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float l : logits) {
            max = Math.max(max, l);
        }
        double sum = 0;
        double[] p = new double[logits.length];
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }
}
