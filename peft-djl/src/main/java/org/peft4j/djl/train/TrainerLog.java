package org.peft4j.djl.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * Writes {@code trainer_log.jsonl} as LLaMA-Factory does, one JSON object per line and per logging
 * step, flushed at once so another process can follow the run: {@code current_steps},
 * {@code total_steps}, {@code loss} or {@code eval_loss}, {@code accuracy}, {@code lr},
 * {@code epoch}, {@code percentage}, {@code elapsed_time} and {@code remaining_time} (H:MM:SS), and
 * {@code throughput} (tokens per second).
 */
public final class TrainerLog implements Closeable {
    /** The file's name inside the output directory. */
    public static final String FILE = "trainer_log.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();
    private final BufferedWriter out;

    /** Starts a new log in {@code directory} (created if needed), replacing an old one. */
    public TrainerLog(Path directory) throws IOException {
        Files.createDirectories(directory);
        out = Files.newBufferedWriter(directory.resolve(FILE), StandardCharsets.UTF_8);
    }

    /** Appends one line. */
    public void write(Map<String, Object> fields) {
        try {
            out.write(JSON.writeValueAsString(fields));
            out.newLine();
            out.flush();
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + fields + " as JSON", e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Formats a duration as LLaMA-Factory does: H:MM:SS. */
    public static String hms(Duration d) {
        long s = Math.max(0, d.getSeconds());
        return String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    @Override
    public void close() throws IOException {
        out.close();
    }
}
