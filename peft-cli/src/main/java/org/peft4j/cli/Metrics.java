package org.peft4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.train.TextTraining;

/**
 * The metrics the command reports, as Hugging Face's trainer names them ({@code eval_loss},
 * {@code test_accuracy}, ...), rounded to four decimals. A value that is not finite is reported as
 * such ({@code "NaN"}, {@code "Infinity"} in JSON), never rounded to 0.
 */
final class Metrics {
    /** Indented JSON; NaN and the infinities written as strings, as Jackson does by default. */
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Metrics() {}

    /**
     * Evaluates {@code rows} (nothing if there are none) with a progress bar named {@code prefix}
     * on {@code progress}, and puts {@code prefix_loss}, {@code _accuracy}, {@code _f1} and
     * {@code _samples} into {@code results}.
     */
    static void put(Map<String, Object> results, String prefix, TextTraining training, List<LabeledText> rows,
            int batchSize, PrintStream progress) {
        if (rows.isEmpty()) {
            return;
        }
        TextTraining.Evaluation e = training.evaluate(rows, batchSize, progress, prefix);
        results.put(prefix + "_loss", round(e.loss()));
        results.put(prefix + "_accuracy", round(e.metrics().accuracy()));
        results.put(prefix + "_f1", round(e.metrics().macroF1()));
        results.put(prefix + "_samples", rows.size());
    }

    /** Rounds to four decimals; a value that is not finite stays as it is. */
    static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e4) / 1e4 : v;
    }

    /** The entries of {@code results} that are not finite numbers, as {@code key NaN}. */
    static List<String> nonFinite(Map<String, Object> results) {
        List<String> out = new ArrayList<>();
        results.forEach((key, value) -> {
            if (value instanceof Double && !Double.isFinite((Double) value)) {
                out.add(key + " " + value);
            }
        });
        return out;
    }

    /** The results as indented JSON. */
    static String json(Map<String, Object> results) throws IOException {
        return JSON.writeValueAsString(results);
    }

    /** Writes the results as JSON to {@code file}, atomically. */
    static void write(Map<String, Object> results, Path file) throws IOException {
        byte[] bytes = json(results).getBytes(StandardCharsets.UTF_8);
        AtomicFiles.write(file, out -> out.write(bytes));
    }
}
