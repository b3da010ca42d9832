package org.peft4j.api.data;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Reads text-classification data from a tab-separated file whose first line names the columns;
 * a {@code text} and a {@code label} column are required, a {@code split} column is optional.
 */
public final class LabeledTexts {
    private LabeledTexts() {}

    /**
     * Reads every row of a TSV file.
     *
     * @throws IllegalArgumentException naming the file and line if a required column is missing or
     *     a row has the wrong number of fields
     */
    public static List<LabeledText> readTsv(Path file) throws IOException {
        try (BufferedReader reader = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String header = reader.readLine();
            if (header == null) {
                throw new IllegalArgumentException(file + ": the file is empty; expected a header line");
            }
            List<String> columns = Arrays.asList(header.split("\t", -1));
            int text = column(columns, "text", file);
            int label = column(columns, "label", file);
            int split = columns.indexOf("split");
            List<LabeledText> rows = new ArrayList<>();
            String line;
            int number = 1;
            while ((line = reader.readLine()) != null) {
                number++;
                if (line.isEmpty()) {
                    continue;
                }
                String[] fields = line.split("\t", -1);
                if (fields.length != columns.size()) {
                    throw new IllegalArgumentException(file + ":" + number + ": expected " + columns.size()
                            + " tab-separated fields " + columns + ", found " + fields.length);
                }
                rows.add(new LabeledText(fields[text], fields[label], split < 0 ? null : fields[split]));
            }
            return rows;
        }
    }

    private static int column(List<String> columns, String name, Path file) {
        int index = columns.indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException(file + ": no \"" + name + "\" column; the header names " + columns);
        }
        return index;
    }

    /** Returns the rows of one split. */
    public static List<LabeledText> split(List<LabeledText> rows, String split) {
        return rows.stream().filter(r -> split.equals(r.split())).collect(Collectors.toList());
    }

    /** Returns the distinct labels in sorted order, so that label indices are stable. */
    public static List<String> labels(List<LabeledText> rows) {
        Set<String> labels = new TreeSet<>();
        rows.forEach(r -> labels.add(r.label()));
        return new ArrayList<>(labels);
    }
}
