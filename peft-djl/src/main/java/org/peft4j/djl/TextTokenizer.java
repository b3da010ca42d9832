package org.peft4j.djl;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Turns text into the model's token ids, as its tokenizer does with special tokens included;
 * prompt-tuning's TEXT init reads the word embeddings of these ids. A model family's tokenizer
 * (such as BERT's) is one.
 */
@FunctionalInterface
public interface TextTokenizer {
    /** Returns the token ids of {@code text}. */
    long[] ids(String text);

    /**
     * The token ids of {@code text} as the Hugging Face {@code tokenizer.json} file gives them
     * (special tokens included, not truncated): for an adapter whose config names its tokenizer
     * ({@code tokenizer_name_or_path}) when the caller passed none.
     */
    static long[] ids(Path tokenizerJson, String text) throws IOException {
        try (InputStream in = Files.newInputStream(tokenizerJson);
                HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(in,
                        Map.of("padding", "false", "truncation", "false"))) {
            return tokenizer.encode(text).getIds();
        }
    }
}
