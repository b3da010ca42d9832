package org.peft4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.djl.models.bert.PretrainedEncoder;

/**
 * Copies a model's tokenizer files next to weights that the command writes, so that the directory
 * is a whole Hugging Face model: {@value #TOKENIZER} always, and {@value #TOKENIZER_CONFIG} when the
 * source model has one (the built-in all-MiniLM-L6-v2 artifact ships only {@value #TOKENIZER};
 * transformers' AutoTokenizer reads that alone for a {@code bert} config).
 */
final class TokenizerFiles {
    /** The tokenizer's vocabulary and pipeline, as Hugging Face tokenizers writes it. */
    static final String TOKENIZER = "tokenizer.json";
    /** The tokenizer's settings for transformers. */
    static final String TOKENIZER_CONFIG = "tokenizer_config.json";

    private TokenizerFiles() {}

    /** The tokenizer files of {@code source}, by file name, to be written beside a model's weights. */
    static Map<String, byte[]> read(PretrainedEncoder source) throws IOException {
        Map<String, byte[]> files = new LinkedHashMap<>();
        if (source.kind() == PretrainedEncoder.Kind.CLASSPATH) {
            try (InputStream in = TokenizerFiles.class.getResourceAsStream(source.tokenizer())) {
                if (in == null) {
                    throw new IOException("classpath resource " + source.tokenizer() + " not found");
                }
                files.put(TOKENIZER, in.readAllBytes());
            }
            return files;
        }
        Path tokenizer = Path.of(source.tokenizer());
        files.put(TOKENIZER, Files.readAllBytes(tokenizer));
        Path config = tokenizer.resolveSibling(TOKENIZER_CONFIG);
        if (Files.isRegularFile(config)) {
            files.put(TOKENIZER_CONFIG, Files.readAllBytes(config));
        }
        return files;
    }
}
