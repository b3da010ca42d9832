package org.peft4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.peft4j.api.AtomicFiles;
import org.peft4j.djl.bert.PretrainedEncoder;

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

    /** Writes the tokenizer files of {@code source} into {@code directory}, each atomically. */
    static void copy(PretrainedEncoder source, Path directory) throws IOException {
        if (source.kind() == PretrainedEncoder.Kind.CLASSPATH) {
            try (InputStream in = TokenizerFiles.class.getResourceAsStream(source.tokenizer())) {
                if (in == null) {
                    throw new IOException("classpath resource " + source.tokenizer() + " not found");
                }
                byte[] bytes = in.readAllBytes();
                AtomicFiles.write(directory.resolve(TOKENIZER), out -> out.write(bytes));
            }
            return;
        }
        Path tokenizer = Path.of(source.tokenizer());
        copyFile(tokenizer, directory.resolve(TOKENIZER));
        Path config = tokenizer.resolveSibling(TOKENIZER_CONFIG);
        if (Files.isRegularFile(config)) {
            copyFile(config, directory.resolve(TOKENIZER_CONFIG));
        }
    }

    private static void copyFile(Path from, Path to) throws IOException {
        if (from.toAbsolutePath().normalize().equals(to.toAbsolutePath().normalize())) {
            return;
        }
        byte[] bytes = Files.readAllBytes(from);
        AtomicFiles.write(to, out -> out.write(bytes));
    }
}
