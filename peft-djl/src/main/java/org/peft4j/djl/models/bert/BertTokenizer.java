package org.peft4j.djl.models.bert;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.peft4j.djl.TextTokenizer;

/**
 * Turns texts into {@link BertModel} inputs with DJL's Hugging Face tokenizer: each batch is
 * padded to its own longest sequence (not to a fixed length, whatever the tokenizer.json asks),
 * and every sequence is cut to at most {@code maxLength} tokens, [CLS] and [SEP] included.
 */
public final class BertTokenizer implements TextTokenizer, AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;

    private BertTokenizer(HuggingFaceTokenizer tokenizer, int maxLength) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
    }

    /** Reads a Hugging Face {@code tokenizer.json}. */
    public static BertTokenizer fromTokenizerJson(InputStream tokenizerJson, int maxLength) throws IOException {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must leave room for [CLS] and [SEP], got " + maxLength);
        }
        Map<String, String> options = Map.of("padding", "false", "truncation", "true",
                "maxLength", Integer.toString(maxLength), "modelMaxLength", Integer.toString(maxLength));
        return new BertTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson, options), maxLength);
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

    /** Returns the token ids of one text, [CLS] and [SEP] included, cut to {@code maxLength}. */
    @Override
    public long[] ids(String text) {
        return tokenizer.encode(text).getIds();
    }

    /**
     * Encodes a batch as {@code input_ids}, {@code attention_mask} and {@code token_type_ids},
     * each [B, T] int64 with T the longest sequence in the batch; shorter sequences are padded
     * with id 0 and mask 0.
     */
    public NDList encode(NDManager manager, List<String> texts) {
        Encoding[] encodings = tokenizer.batchEncode(texts);
        int length = 0;
        for (Encoding e : encodings) {
            length = Math.max(length, e.getIds().length);
        }
        long[] ids = new long[encodings.length * length];
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
