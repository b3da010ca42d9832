package org.peft4j.djl.models.bert;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.peft4j.djl.TextTokenizer;

/**
 * Turns texts into encoder inputs with DJL's Hugging Face tokenizer (any family's
 * {@code tokenizer.json}: BERT's WordPiece, RoBERTa's byte-level BPE, ...): each batch is padded
 * to its own longest sequence (not to a fixed length, whatever the tokenizer.json asks) with the
 * tokenizer's padding id ({@link #padId()}), and every sequence is cut to at most
 * {@code maxLength} tokens, special tokens included.
 */
public final class BertTokenizer implements TextTokenizer, AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    /** The padding tokens looked up when {@code tokenizer.json} sets no padding: BERT's, then RoBERTa's. */
    private static final List<String> PAD_TOKENS = List.of("[PAD]", "<pad>");
    private final int maxLength;
    private final long padId;

    private BertTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long padId) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.padId = padId;
    }

    /**
     * The padding id of a {@code tokenizer.json}: {@code padding.pad_id} when it sets padding,
     * else the id of its {@code [PAD]} or {@code <pad>} token ({@code added_tokens}, then the
     * model's vocabulary), else 0.
     */
    static long padId(JsonNode root) {
        JsonNode padding = root.path("padding");
        if (padding.path("pad_id").isIntegralNumber()) {
            return padding.get("pad_id").longValue();
        }
        for (String token : PAD_TOKENS) {
            for (JsonNode added : root.path("added_tokens")) {
                if (token.equals(added.path("content").asText()) && added.path("id").isIntegralNumber()) {
                    return added.get("id").longValue();
                }
            }
            JsonNode id = root.path("model").path("vocab").path(token);
            if (id.isIntegralNumber()) {
                return id.longValue();
            }
        }
        return 0;
    }

    /** Reads a Hugging Face {@code tokenizer.json}. */
    public static BertTokenizer fromTokenizerJson(InputStream tokenizerJson, int maxLength) throws IOException {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must leave room for [CLS] and [SEP], got " + maxLength);
        }
        Map<String, String> options = Map.of("padding", "false", "truncation", "true",
                "maxLength", Integer.toString(maxLength), "modelMaxLength", Integer.toString(maxLength));
        byte[] json = tokenizerJson.readAllBytes();
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("tokenizer.json is not JSON: " + e.getOriginalMessage(), e);
        }
        return new BertTokenizer(HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(json), options), maxLength,
                padId(root));
    }

    /** Reads a Hugging Face {@code tokenizer.json} file. */
    public static BertTokenizer fromTokenizerJson(Path tokenizerJson, int maxLength) throws IOException {
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            return fromTokenizerJson(in, maxLength);
        }
    }

    /** Returns the longest sequence, in tokens, this tokenizer produces. */
    public int maxLength() {
        return maxLength;
    }

    /** Returns the id that pads shorter sequences of a batch ({@code input_ids}; their mask is 0). */
    public long padId() {
        return padId;
    }

    /** Returns the token ids of one text, [CLS] and [SEP] included, cut to {@code maxLength}. */
    @Override
    public long[] ids(String text) {
        return tokenizer.encode(text).getIds();
    }

    /**
     * Encodes a batch as {@code input_ids}, {@code attention_mask} and {@code token_type_ids},
     * each [B, T] int64 with T the longest sequence in the batch; shorter sequences are padded
     * with {@link #padId()}, mask 0 and token type 0.
     */
    public NDList encode(NDManager manager, List<String> texts) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        int length = 0;
        for (Encoding e : encodings) {
            length = Math.max(length, e.getIds().length);
        }
        long[] ids = new long[encodings.length * length];
        java.util.Arrays.fill(ids, padId);
        long[] mask = new long[ids.length];
        long[] types = new long[ids.length];
        for (int i = 0; i < encodings.length; i++) {
            long[] row = encodings[i].getIds();
            long[] rowTypes = encodings[i].getTypeIds();
            for (int j = 0; j < row.length; j++) {
                ids[i * length + j] = row[j];
                mask[i * length + j] = 1;
                types[i * length + j] = rowTypes[j];
            }
        }
        Shape shape = new Shape(encodings.length, length);
        NDArray idArray = manager.create(ids, shape);
        return new NDList(idArray, manager.create(mask, shape), manager.create(types, shape));
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
