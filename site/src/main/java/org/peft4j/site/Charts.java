package org.peft4j.site;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Horizontal bar charts (SVG) of the benchmark's rows: update time, test accuracy, inference speed. */
final class Charts {
    private Charts() {}

    /** Writes {@code bench-update-ms.svg}, {@code bench-accuracy.svg} and {@code bench-inference.svg}. */
    static void write(JsonNode results, Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        List<Double> update = new ArrayList<>();
        List<Double> accuracy = new ArrayList<>();
        for (JsonNode row : results.get("rows")) {
            names.add(row.get("method").asText());
            update.add(row.get("median_step_ms").asDouble());
            accuracy.add(100 * row.get("test_accuracy").asDouble());
        }
        bars(dir.resolve("bench-update-ms.svg"), "median update, ms (batch 16 x 64 tokens)", names, update, "%.0f");
        bars(dir.resolve("bench-accuracy.svg"), "test accuracy, %", names, accuracy, "%.1f");
        JsonNode inference = results.get("inference");
        bars(dir.resolve("bench-inference.svg"), "inference, sequences per second",
                List.of("base", "LoRA unmerged", "LoRA merged"),
                List.of(inference.get("base_seq_per_s").asDouble(), inference.get("lora_unmerged_seq_per_s").asDouble(),
                        inference.get("lora_merged_seq_per_s").asDouble()), "%.1f");
    }

    private static void bars(Path file, String title, List<String> names, List<Double> values, String format)
            throws IOException {
        int rowHeight = 26;
        int left = 120;
        int width = 560;
        int height = 40 + rowHeight * names.size();
        double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(1);
        StringBuilder svg = new StringBuilder(String.format(Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\""
                        + " font-size=\"13\"><title>%s</title><rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>"
                        + "<text x=\"8\" y=\"20\" font-weight=\"bold\">%s</text>", width, height, title, title));
        for (int i = 0; i < names.size(); i++) {
            int y = 32 + i * rowHeight;
            double w = (width - left - 70) * values.get(i) / max;
            svg.append(String.format(Locale.ROOT, "<text x=\"8\" y=\"%d\">%s</text>", y + 15, names.get(i)));
            svg.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"18\" fill=\"#3b82f6\"/>",
                    left, y, w));
            svg.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">" + format + "</text>", left + w + 6,
                    y + 15, values.get(i)));
        }
        svg.append("</svg>\n");
        Files.writeString(file, svg, StandardCharsets.UTF_8);
    }
}
