package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.cli.Peft4jCommandTest.Result;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.RetrievalMetrics;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;

/**
 * {@code eval}, {@code predict} and {@code export} of a sentence-embedding run directory laid out as
 * {@code peft4j train} writes it (a random LoRA on the built-in all-MiniLM-L6-v2, so nothing
 * trains), each checked against the library's own embeddings computed here one text at a time:
 * eval's retrieval equals {@link RetrievalMetrics} on them, predict writes them (JSON Lines and
 * NumPy's {@code .npz}), the exported sentence-transformers directory and ONNX model give them
 * again; and the refusals.
 */
class EmbeddingRunCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int CUTOFF = 32;

    @TempDir
    static Path dir;
    static Path run;
    static Path pairs;
    static List<String> anchors = new ArrayList<>();
    static List<String> positives = new ArrayList<>();
    /** The library's embedding of each anchor and positive, one text at a time (no padding). */
    static Map<String, float[]> expected = new HashMap<>();

    @BeforeAll
    static void writeRun() throws Exception {
        // twelve test pairs (subject -> body) and two train pairs of the spam data; eval takes the test rows
        StringBuilder tsv = new StringBuilder("anchor\tpositive\tsplit\n");
        int test = 0;
        int train = 0;
        for (LabeledText row : LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv"))) {
            String[] parts = row.text().split(" \\| ", 2);
            boolean isTest = "test".equals(row.split());
            if (parts.length < 2 || (isTest ? test >= 12 : train >= 2)) {
                continue;
            }
            tsv.append(parts[0]).append('\t').append(parts[1]).append('\t').append(isTest ? "test" : "train").append('\n');
            if (isTest) {
                anchors.add(parts[0]);
                positives.add(parts[1]);
                test++;
            } else {
                train++;
            }
            if (test == 12 && train == 2) {
                break;
            }
        }
        pairs = Files.writeString(dir.resolve("pairs.tsv"), tsv);
        run = dir.resolve("run");
        try (NDManager manager = NDManager.newBaseManager(); BertTokenizer tokenizer =
                PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(CUTOFF)) {
            SentenceEmbedder embedder = new SentenceEmbedder(PretrainedEncoder.ALL_MINILM_L6_V2.load(manager),
                    EmbeddingPooling.MEAN_NORMALIZED);
            Peft.apply(embedder, LoraConfig.builder().optR(4).optLoraAlpha(16f).optInitLoraWeights(LoraInit.RANDOM)
                    .setTargetModules("query", "value").optBaseModelNameOrPath(TrainedModel.BUILT_IN_HUB_ID).build())
                    .saveAdapter(run);
            ParameterStore ps = new ParameterStore(manager, false);
            for (String text : concat(anchors, positives)) {
                NDList in = tokenizer.encode(manager, List.of(text));
                expected.put(text, embedder.embed(ps, in.get(0), in.get(1), in.get(2), false).toFloatArray());
            }
        }
        // the record as an embedding run writes it (no labels; the pairs' columns)
        Files.writeString(run.resolve(RunRecord.FILE), "{\"model_name_or_path\": \"" + TrainArguments.DEFAULT_MODEL
                + "\", \"finetuning_type\": \"lora\", \"cutoff_len\": " + CUTOFF + ", \"text_column\": \"anchor\","
                + " \"label_column\": \"label\", \"split_column\": \"split\", \"labels\": [], \"seed\": 42,"
                + " \"task_type\": \"FEATURE_EXTRACTION\", \"positive_column\": \"positive\"}");
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    /** Retrieval of each anchor's positive among the distinct positives, by cosine similarity of the library's embeddings. */
    private static RetrievalMetrics libraryRetrieval() {
        List<String> corpus = positives.stream().distinct().toList();
        float[][] similarity = new float[anchors.size()][corpus.size()];
        int[] relevant = new int[anchors.size()];
        for (int q = 0; q < anchors.size(); q++) {
            relevant[q] = corpus.indexOf(positives.get(q));
            for (int d = 0; d < corpus.size(); d++) {
                similarity[q][d] = (float) cosine(expected.get(anchors.get(q)), expected.get(corpus.get(d)));
            }
        }
        return RetrievalMetrics.of(similarity, relevant);
    }

    private static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }

    private static void assertRetrieval(JsonNode scores, RetrievalMetrics library) {
        assertThat(scores.get("eval_samples").asInt()).isEqualTo(12);
        assertThat(scores.get("eval_recall@1").asDouble()).isCloseTo(library.recallAt1(), within(1e-4));
        assertThat(scores.get("eval_recall@10").asDouble()).isCloseTo(library.recallAt10(), within(1e-4));
        assertThat(scores.get("eval_mrr@10").asDouble()).isCloseTo(library.mrrAt10(), within(1e-4));
        assertThat(scores.get("eval_loss").asDouble()).isPositive();
    }

    @Test
    void evalReportsTheLibrarysRetrievalMetrics() throws Exception {
        RetrievalMetrics library = libraryRetrieval();
        System.out.printf("library retrieval on the random LoRA: recall@1 %.4f, recall@10 %.4f, MRR@10 %.4f%n",
                library.recallAt1(), library.recallAt10(), library.mrrAt10());
        assertThat(library.recallAt1()).isBetween(0.0, 0.99); // not every anchor finds its body first: a real test
        Result eval = Peft4jCommandTest.run("eval", run.toString(), "--dataset", pairs.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertRetrieval(JSON.readTree(eval.out()), library);

        // the adapter alone, as Python's PEFT saves it (no run record): the base from base_model_name_or_path
        Path python = Files.createDirectories(dir.resolve("python-adapter"));
        for (String file : List.of("adapter_config.json", "adapter_model.safetensors")) {
            Files.copy(run.resolve(file), python.resolve(file));
        }
        Result bare = Peft4jCommandTest.run("eval", python.toString(), "--dataset", pairs.toString(), "--text-column",
                "anchor", "--cutoff-len", Integer.toString(CUTOFF));
        assertThat(bare.status()).as(bare.err()).isZero();
        assertRetrieval(JSON.readTree(bare.out()), library);
    }

    @Test
    void predictWritesTheLibrarysEmbeddingsAsJsonLinesAndNpz() throws Exception {
        Path jsonl = dir.resolve("embeddings.jsonl");
        Result predict = Peft4jCommandTest.run("predict", run.toString(), "--input", pairs.toString(), "--output",
                jsonl.toString());
        assertThat(predict.status()).as(predict.err()).isZero();
        assertThat(predict.out()).contains("14 embeddings written to " + jsonl);
        List<String> lines = Files.readAllLines(jsonl);
        assertThat(lines).hasSize(14);
        for (String line : lines) {
            JsonNode row = JSON.readTree(line);
            float[] library = expected.get(row.get("anchor").asText());
            if (library == null) {
                continue; // a train row's anchor, not embedded here
            }
            JsonNode vector = row.get("embedding");
            assertThat(vector.size()).isEqualTo(384);
            for (int i = 0; i < library.length; i++) {
                assertThat(vector.get(i).floatValue()).isCloseTo(library[i], within(1e-5f));
            }
        }

        Path npz = dir.resolve("embeddings.npz");
        assertThat(Peft4jCommandTest.run("predict", run.toString(), "--input", pairs.toString(), "--output",
                npz.toString()).status()).isZero();
        float[] array = readNpy(npz, EmbeddingRun.NPZ_ARRAY + ".npy", new long[] {14, 384});
        for (int row = 0; row < 14; row++) {
            JsonNode fromJsonl = JSON.readTree(lines.get(row)).get("embedding");
            for (int i = 0; i < 384; i++) {
                assertThat(array[row * 384 + i]).isEqualTo(fromJsonl.get(i).floatValue());
            }
        }
    }

    /** The float32 data of entry {@code name} of a NumPy {@code .npz} file, read by its header as NumPy's format defines it. */
    private static float[] readNpy(Path npz, String name, long[] shape) throws Exception {
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(npz))) {
            for (ZipEntry e = zip.getNextEntry(); e != null; e = zip.getNextEntry()) {
                if (!e.getName().equals(name)) {
                    continue;
                }
                ByteBuffer bytes = ByteBuffer.wrap(zip.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
                byte[] magic = new byte[6];
                bytes.get(magic);
                assertThat(magic).isEqualTo(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'});
                int major = bytes.get();
                bytes.get(); // minor version
                int headerLength = major == 1 ? Short.toUnsignedInt(bytes.getShort()) : bytes.getInt();
                byte[] header = new byte[headerLength];
                bytes.get(header);
                String dict = new String(header, StandardCharsets.US_ASCII).replace(" ", "");
                assertThat(dict).contains("'descr':'<f4'", "'fortran_order':False", "'shape':(" + shape[0] + "," + shape[1] + ")");
                float[] out = new float[(int) (shape[0] * shape[1])];
                bytes.asFloatBuffer().get(out);
                return out;
            }
        }
        throw new AssertionError(npz + " has no entry " + name);
    }

    @Test
    void exportWritesASentenceTransformersDirectoryAndAnOnnxModelThatGiveTheSameEmbeddings() throws Exception {
        Path hf = dir.resolve("merged");
        Result export = Peft4jCommandTest.run("export", run.toString(), "--to", hf.toString());
        assertThat(export.status()).as(export.err()).isZero();
        assertThat(export.out()).contains("mean+normalize pooling");
        assertThat(JSON.readTree(hf.resolve("config.json").toFile()).get("architectures").toString())
                .isEqualTo("[\"BertModel\"]");
        assertThat(SafeTensors.read(hf.resolve("model.safetensors")).tensors().keySet())
                .contains("encoder.layer.0.attention.self.query.weight", "embeddings.word_embeddings.weight")
                .noneMatch(k -> k.contains("lora") || k.startsWith("pooler."));
        assertThat(hf.resolve("tokenizer.json")).exists();
        assertThat(EmbeddingPooling.fromSentenceTransformers(hf)).isEqualTo(EmbeddingPooling.MEAN_NORMALIZED);
        try (NDManager manager = NDManager.newBaseManager(); BertTokenizer tokenizer =
                PretrainedEncoder.huggingFace(hf).tokenizer(CUTOFF)) {
            SentenceEmbedder merged = new SentenceEmbedder(EncoderFamilies.fromHuggingFace(hf, manager),
                    EmbeddingPooling.fromSentenceTransformers(hf));
            double worst = 0;
            for (String text : anchors) {
                NDList in = tokenizer.encode(manager, List.of(text));
                float[] v = merged.embed(new ParameterStore(manager, false), in.get(0), in.get(1), in.get(2), false)
                        .toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    worst = Math.max(worst, Math.abs(v[i] - expected.get(text)[i]));
                }
            }
            System.out.printf("exported sentence-transformers directory vs the adapter: max difference %.3g%n", worst);
            assertThat(worst).isLessThanOrEqualTo(1e-5);
        }
        // without its run record it is a sentence-transformers directory like any other: predict embeds with it
        Files.delete(hf.resolve(RunRecord.FILE));
        Result predict = Peft4jCommandTest.run("predict", hf.toString(), "--input", pairs.toString(), "--text-column",
                "anchor", "--cutoff-len", Integer.toString(CUTOFF));
        assertThat(predict.status()).as(predict.err()).isZero();
        JsonNode first = JSON.readTree(predict.out().lines().findFirst().orElseThrow());
        float[] library = expected.get(first.get("anchor").asText());
        for (int i = 0; i < library.length; i++) {
            assertThat(first.get("embedding").get(i).floatValue()).isCloseTo(library[i], within(1e-5f));
        }

        Path onnx = dir.resolve("onnx");
        Result toOnnx = Peft4jCommandTest.run("export", run.toString(), "--to", onnx.toString(), "--format", "onnx");
        assertThat(toOnnx.status()).as(toOnnx.err()).isZero();
        assertThat(EmbeddingPooling.fromSentenceTransformers(onnx)).isEqualTo(EmbeddingPooling.MEAN_NORMALIZED);
        double lowest = 1;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (NDManager manager = NDManager.newBaseManager(); BertTokenizer tokenizer =
                PretrainedEncoder.ALL_MINILM_L6_V2.tokenizer(CUTOFF); OrtSession session = env.createSession(
                        onnx.resolve(ExportCommand.ONNX_FILE).toString(), new OrtSession.SessionOptions())) {
            for (String text : anchors) {
                NDList in = tokenizer.encode(manager, List.of(text));
                float[] hidden = lastHiddenState(env, session, in);
                int tokens = (int) in.get(0).size();
                float[] pooled = new float[384];
                for (int t = 0; t < tokens; t++) {
                    for (int i = 0; i < 384; i++) {
                        pooled[i] += hidden[t * 384 + i] / tokens; // one text, no padding: the mean of every token
                    }
                }
                lowest = Math.min(lowest, cosine(pooled, expected.get(text)));
            }
        }
        System.out.printf("ONNX Runtime on the exported model vs peft4j: lowest cosine %.7f%n", lowest);
        assertThat(lowest).isGreaterThanOrEqualTo(0.9999);
    }

    /** ONNX Runtime's {@code last_hidden_state} of one text, [tokens · hidden]. */
    private static float[] lastHiddenState(OrtEnvironment env, OrtSession session, NDList inputs) throws Exception {
        try (OnnxTensor ids = tensor(env, inputs.get(0));
                OnnxTensor mask = tensor(env, inputs.get(1));
                OnnxTensor types = tensor(env, inputs.get(2));
                OrtSession.Result result = session.run(Map.of("input_ids", ids, "attention_mask", mask,
                        "token_type_ids", types))) {
            float[][][] hidden = (float[][][]) result.get("last_hidden_state").orElseThrow().getValue();
            float[] flat = new float[hidden[0].length * hidden[0][0].length];
            for (int t = 0; t < hidden[0].length; t++) {
                System.arraycopy(hidden[0][t], 0, flat, t * hidden[0][0].length, hidden[0][0].length);
            }
            return flat;
        }
    }

    private static OnnxTensor tensor(OrtEnvironment env, NDArray a) throws Exception {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(a.toLongArray()), a.getShape().getShape());
    }

    @Test
    void refusesWhatItCannotUse() throws Exception {
        Result noData = Peft4jCommandTest.run("eval", run.toString());
        assertThat(noData.status()).isEqualTo(2);
        assertThat(noData.err()).contains("the directory records no training file; give the data with --dataset");

        Path oneColumn = Files.writeString(dir.resolve("anchors.tsv"), "anchor\nhello\n");
        Result noPositive = Peft4jCommandTest.run("eval", run.toString(), "--dataset", oneColumn.toString());
        assertThat(noPositive.status()).isEqualTo(2);
        assertThat(noPositive.err()).contains(oneColumn.toString(), "positive");

        Result noSplit = Peft4jCommandTest.run("eval", run.toString(), "--dataset", pairs.toString(), "--split", "dev");
        assertThat(noSplit.status()).isEqualTo(2);
        assertThat(noSplit.err()).contains("has no rows in split \"dev\"");

        Path broken = Files.createDirectories(dir.resolve("broken"));
        Files.copy(run.resolve(RunRecord.FILE), broken.resolve(RunRecord.FILE));
        Result missing = Peft4jCommandTest.run("predict", broken.toString(), "--input", pairs.toString());
        assertThat(missing.status()).isEqualTo(2);
        assertThat(missing.err()).contains(broken + " holds a damaged or incomplete run");
    }
}
