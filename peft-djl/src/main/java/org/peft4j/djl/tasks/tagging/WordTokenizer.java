package org.peft4j.djl.tasks.tagging;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Tokenizes sentences that are already split into words, as transformers' tokenizers do with
 * {@code is_split_into_words=True}: each word is tokenized on its own (DJL's Hugging Face tokenizer
 * given a list of words), special tokens are added, the sequence is cut to at most
 * {@code maxLength} tokens, and each token knows the word it came from ({@code word_ids()}).
 */
public final class WordTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;

    private WordTokenizer(HuggingFaceTokenizer tokenizer, int maxLength) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
    }

    /**
     * Reads a Hugging Face {@code tokenizer.json}; sequences are cut to {@code maxLength} tokens,
     * special tokens included.
     */
    public static WordTokenizer fromTokenizerJson(InputStream tokenizerJson, int maxLength) throws IOException {
        if (maxLength < 2) {
            throw new IllegalArgumentException("maxLength must leave room for the special tokens, got " + maxLength);
        }
        Map<String, String> options = Map.of("padding", "false", "truncation", "true",
                "maxLength", Integer.toString(maxLength), "modelMaxLength", Integer.toString(maxLength));
        return new WordTokenizer(HuggingFaceTokenizer.newInstance(tokenizerJson, options), maxLength);
    }

    /** Reads a Hugging Face {@code tokenizer.json} file. */
    public static WordTokenizer fromTokenizerJson(Path tokenizerJson, int maxLength) throws IOException {
        try (InputStream in = Files.newInputStream(tokenizerJson)) {
            return fromTokenizerJson(in, maxLength);
        }
    }

    /** Returns the longest sequence, in tokens, this tokenizer produces. */
    public int maxLength() {
        return maxLength;
    }

    /**
     * The tokens of one sentence.
     *
     * @param ids the token ids, special tokens included
     * @param typeIds the token type ids
     * @param wordIds for each token the index of the word it came from, or -1 for a special token
     */
    public record WordEncoding(long[] ids, long[] typeIds, long[] wordIds) {
        /** Returns the number of tokens. */
        public int length() {
            return ids.length;
        }

        /**
         * Whether token {@code j} is the first token of its word, the one a word's tag is learned
         * and predicted on.
         */
        public boolean startsWord(int j) {
            return wordIds[j] >= 0 && (j == 0 || wordIds[j - 1] != wordIds[j]);
        }
    }

    /** Tokenizes one sentence given as words. */
    public WordEncoding encode(List<String> words) {
        Encoding e = tokenizer.encode(words);
        return new WordEncoding(e.getIds(), e.getTypeIds(), e.getWordIds());
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
