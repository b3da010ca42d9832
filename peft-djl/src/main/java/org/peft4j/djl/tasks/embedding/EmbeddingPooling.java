package org.peft4j.djl.tasks.embedding;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.peft4j.api.internal.Excerpt;
import java.util.Objects;
import org.peft4j.djl.internal.NativeScalars;
import org.peft4j.djl.models.bert.Pooling;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * How an encoder's hidden states [B, T, H] become one sentence embedding [B, H]: a {@link Pooling}
 * under the attention mask, then optionally division by the L2 norm, as a sentence-transformers
 * model's {@code Pooling} and {@code Normalize} modules do.
 *
 * @param pooling CLS or mean pooling
 * @param normalize whether each embedding is divided by its L2 norm
 */
public record EmbeddingPooling(Pooling pooling, boolean normalize) {
    /**
     * bge-small-en-v1.5's: the {@code [CLS]} state, normalised (its {@code 1_Pooling/config.json} sets
     * {@code pooling_mode_cls_token}, and {@code modules.json} ends with {@code Normalize}).
     */
    public static final EmbeddingPooling CLS_NORMALIZED = new EmbeddingPooling(Pooling.CLS, true);
    /**
     * all-MiniLM-L6-v2's: the mean of the real tokens' states, normalised
     * ({@code pooling_mode_mean_tokens}, then {@code Normalize}).
     */
    public static final EmbeddingPooling MEAN_NORMALIZED = new EmbeddingPooling(Pooling.MEAN, true);
    /**
     * What sentence-transformers builds for a plain transformers checkpoint without
     * {@code modules.json}: mean pooling, not normalised.
     */
    public static final EmbeddingPooling MEAN = new EmbeddingPooling(Pooling.MEAN, false);

    /** The sentence-transformers file that lists a model's modules. */
    public static final String MODULES_FILE = "modules.json";
    /** The module types this reads ({@code modules.json}'s {@code type}). */
    private static final String POOLING_TYPE = "sentence_transformers.models.Pooling";
    private static final String NORMALIZE_TYPE = "sentence_transformers.models.Normalize";
    private static final String TRANSFORMER_TYPE = "sentence_transformers.models.Transformer";
    /** {@code torch.nn.functional.normalize}'s default eps: norms below it are clamped. */
    private static final float NORM_EPS = 1e-12f;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Checks the pooling. */
    public EmbeddingPooling {
        Objects.requireNonNull(pooling, "pooling");
    }

    /**
     * Pools {@code hidden} [B, T, H] under {@code attentionMask} [B, T] (null: no padding) and
     * normalises if asked, giving [B, H].
     */
    public NDArray apply(NDArray hidden, NDArray attentionMask) {
        NDArray pooled = pooling.pool(hidden, attentionMask);
        return normalize ? l2Normalize(pooled) : pooled;
    }

    /**
     * Divides each row of {@code x} [B, H] by max(its L2 norm, 1e-12), as
     * {@code torch.nn.functional.normalize} does; the clamp is a scalar in PyTorch's memory, so
     * autograd can record it (see {@link NativeScalars}).
     */
    public static NDArray l2Normalize(NDArray x) {
        NDArray norm = x.norm(new int[] {1}, true);
        return x.div(norm.maximum(NativeScalars.of(x.getManager(), NORM_EPS)));
    }

    /**
     * Reads the pooling a sentence-transformers model directory asks for: {@code modules.json}'s
     * {@code Pooling} module (its {@code config.json}, {@code pooling_mode_cls_token} or
     * {@code pooling_mode_mean_tokens}, or a {@code pooling_mode} of {@code cls} or {@code mean})
     * and whether a {@code Normalize} module follows. A directory without {@code modules.json} is a
     * plain transformers checkpoint, which sentence-transformers mean-pools without normalising
     * ({@link #MEAN}).
     *
     * @throws IllegalArgumentException naming the file and key if the modules are not a
     *     Transformer, a Pooling of a supported mode and an optional Normalize
     */
    public static EmbeddingPooling fromSentenceTransformers(Path modelDir) throws IOException {
        Path modulesFile = modelDir.resolve(MODULES_FILE);
        if (!Files.isRegularFile(modulesFile)) {
            return MEAN;
        }
        JsonNode modules = readJson(modulesFile);
        if (!modules.isArray()) {
            throw new IllegalArgumentException(modulesFile + ": expected a JSON array of modules");
        }
        Pooling pooling = null;
        boolean normalize = false;
        List<String> types = new ArrayList<>();
        for (JsonNode module : modules) {
            String type = module.path("type").asText("");
            types.add(type);
            if (type.equals(POOLING_TYPE)) {
                pooling = poolingMode(modelDir.resolve(module.path("path").asText("")).resolve("config.json"));
            } else if (type.equals(NORMALIZE_TYPE)) {
                normalize = true;
            } else if (!type.equals(TRANSFORMER_TYPE)) {
                throw new IllegalArgumentException(modulesFile + ": module type \"" + type + "\" is not supported;"
                        + " expected " + TRANSFORMER_TYPE + ", " + POOLING_TYPE + " and optionally " + NORMALIZE_TYPE);
            }
        }
        if (pooling == null) {
            throw new IllegalArgumentException(modulesFile + ": no " + POOLING_TYPE + " module among " + types);
        }
        return new EmbeddingPooling(pooling, normalize);
    }

    /** The one mode a Pooling module's config.json turns on, CLS or mean. */
    private static Pooling poolingMode(Path config) throws IOException {
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException(config + " does not exist; modules.json names its directory as the"
                    + " Pooling module's");
        }
        JsonNode node = readJson(config);
        if (node.hasNonNull("pooling_mode")) {
            String mode = node.get("pooling_mode").asText().toLowerCase(Locale.ROOT);
            switch (mode) {
                case "cls":
                    return Pooling.CLS;
                case "mean":
                    return Pooling.MEAN;
                default:
                    throw new IllegalArgumentException(config + ": pooling_mode \"" + mode
                            + "\" is not supported; expected cls or mean");
            }
        }
        List<String> on = new ArrayList<>();
        node.fieldNames().forEachRemaining(key -> {
            if (key.startsWith("pooling_mode_") && node.get(key).asBoolean(false)) {
                on.add(key);
            }
        });
        if (on.equals(List.of("pooling_mode_cls_token"))) {
            return Pooling.CLS;
        }
        if (on.equals(List.of("pooling_mode_mean_tokens"))) {
            return Pooling.MEAN;
        }
        throw new IllegalArgumentException(config + ": the pooling modes turned on are " + on + "; expected exactly"
                + " one of pooling_mode_cls_token and pooling_mode_mean_tokens");
    }

    private static JsonNode readJson(Path file) throws IOException {
        try {
            return JSON.readTree(file.toFile());
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    /**
     * The pooling a pretrained encoder's sentence embeddings use: the built-ins' own
     * ({@link PretrainedEncoder#BGE_SMALL_EN_V15}: {@link #CLS_NORMALIZED};
     * {@link PretrainedEncoder#ALL_MINILM_L6_V2}: {@link #MEAN_NORMALIZED}), a Hugging Face
     * directory's sentence-transformers modules ({@link #fromSentenceTransformers}), and for an ONNX
     * file those of the directory it lies in.
     *
     * @throws IllegalArgumentException if other classpath resources are named, or the modules are unsupported
     */
    public static EmbeddingPooling forEncoder(PretrainedEncoder encoder) throws IOException {
        switch (encoder.kind()) {
            case HUGGING_FACE:
                return fromSentenceTransformers(Path.of(encoder.location()));
            case ONNX:
                Path parent = Path.of(encoder.location()).getParent();
                return parent != null ? fromSentenceTransformers(parent) : MEAN;
            default:
                if (encoder.equals(PretrainedEncoder.BGE_SMALL_EN_V15)) {
                    return CLS_NORMALIZED;
                }
                if (encoder.equals(PretrainedEncoder.ALL_MINILM_L6_V2)) {
                    return MEAN_NORMALIZED;
                }
                throw new IllegalArgumentException("no known pooling for " + encoder + "; build an EmbeddingPooling for it");
        }
    }

    /**
     * The pooling recorded under {@code name} ({@link #recordedName()}).
     *
     * @throws IllegalArgumentException naming the known poolings
     */
    public static EmbeddingPooling fromRecordedName(String name) {
        for (Pooling p : Pooling.values()) {
            for (boolean normalize : new boolean[] {false, true}) {
                EmbeddingPooling candidate = new EmbeddingPooling(p, normalize);
                if (candidate.recordedName().equals(name)) {
                    return candidate;
                }
            }
        }
        throw new IllegalArgumentException("unknown pooling " + Excerpt.quote(name)
                + "; known: cls, cls+normalize, mean, mean+normalize");
    }

    /** The name recorded in adapter metadata: {@code cls} or {@code mean}, with {@code +normalize} when normalising. */
    public String recordedName() {
        return pooling.name().toLowerCase(Locale.ROOT) + (normalize ? "+normalize" : "");
    }
}
