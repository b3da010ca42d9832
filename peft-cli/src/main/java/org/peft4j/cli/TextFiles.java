package org.peft4j.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;

/**
 * Reads the command's text inputs, configs and datasets, as UTF-8 and nothing else: a file that is
 * not UTF-8 fails with its name and the line and byte where the bad bytes start, never with a bare
 * {@code MalformedInputException}. A leading byte-order mark is dropped.
 */
final class TextFiles {
    private TextFiles() {}

    /**
     * Reads {@code file} as UTF-8.
     *
     * @param what what the file is, for messages ("config file")
     * @throws IllegalArgumentException if the file does not exist, is a directory, or is not UTF-8
     */
    static String readUtf8(Path file, String what) throws IOException {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(what + " " + file + " is a directory, not a file");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(what + " " + file + " does not exist");
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (result.isError()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new IllegalArgumentException(file + ", line " + line + ": not UTF-8 text (byte " + in.position()
                    + " of the file starts an invalid sequence); save the " + what + " as UTF-8");
        }
        decoder.flush(out);
        String text = out.flip().toString();
        return text.startsWith("\uFEFF") ? text.substring(1) : text; // a byte-order mark, as some editors write
    }

    /** Reads labelled rows as {@link LabeledTexts#read} does, naming the file if it is not UTF-8. */
    static List<LabeledText> readRows(Path file, LabeledTexts.Columns columns) throws IOException {
        try {
            return LabeledTexts.read(file, columns);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("dataset " + file + " does not exist");
        } catch (CharacterCodingException e) {
            readUtf8(file, "dataset"); // throws with the file, line and byte
            throw e;
        }
    }

    /** Reads texts as {@link LabeledTexts#readTexts} does, naming the file if it is not UTF-8. */
    static List<String> readTexts(Path file, String column) throws IOException {
        try {
            return LabeledTexts.readTexts(file, column);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("input " + file + " does not exist");
        } catch (CharacterCodingException e) {
            readUtf8(file, "input");
            throw e;
        }
    }
}
