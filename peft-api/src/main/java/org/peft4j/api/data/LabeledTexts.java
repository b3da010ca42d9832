package org.peft4j.api.data;

import com.fasterxml.jackson.databind.ObjectMapper;
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
 * Reads text-classification data from a table whose columns are named: a tab-separated
 * ({@code .tsv}) or comma-separated ({@code .csv}, RFC 4180 quoting) file whose first line names
 * the columns, or a JSON Lines file ({@code .jsonl}) of objects. A text and a label column are
 * required, a split column is optional.
 */
public final class LabeledTexts {
    private static final ObjectMapper JSON = new ObjectMapper();

    private LabeledTexts() {}

    /**
     * The names of the columns to read.
     *
     * @param text the text column
     * @param label the label column
     * @param split the split column (train, dev, test); optional in the file
     */
    public record Columns(String text, String label, String split) {
        /** {@code text}, {@code label} and {@code split}. */
        public static final Columns DEFAULT = new Columns("text", "label", "split");
    }

    /**
     * Reads every row of a TSV file with the default column names.
     *
     * @throws IllegalArgumentException naming the file and line if a required column is missing or
     *     a row has the wrong number of fields
     */
    public static List<LabeledText> readTsv(Path file) throws IOException {
        return labeled(readTable(file, Format.TSV), Columns.DEFAULT, file);
    }

    /**
     * Reads every row of a .tsv, .csv or .jsonl file (by its extension).
     *
     * @throws IllegalArgumentException naming the file (and line) if the format is unknown, a
     *     required column is missing, or a row is malformed
     */
    public static List<LabeledText> read(Path file, Columns columns) throws IOException {
        return labeled(readTable(file, Format.of(file)), columns, file);
    }

    /**
     * Reads the texts of a .tsv, .csv or .jsonl file, for prediction: only the text column is required.
     *
     * @throws IllegalArgumentException as {@link #read} does
     */
    public static List<String> readTexts(Path file, String textColumn) throws IOException {
        Table table = readTable(file, Format.of(file));
        int text = column(table.header, textColumn, file);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < table.rows.size(); i++) {
            if (table.rows.get(i)[text] == null) {
                throw new IllegalArgumentException(file + ": row " + (i + 1) + " has no \"" + textColumn + "\"");
            }
            out.add(table.rows.get(i)[text]);
        }
        return out;
    }

    private static List<LabeledText> labeled(Table table, Columns columns, Path file) {
        int text = column(table.header, columns.text(), file);
        int label = column(table.header, columns.label(), file);
        int split = table.header.indexOf(columns.split());
        List<LabeledText> rows = new ArrayList<>(table.rows.size());
        for (int i = 0; i < table.rows.size(); i++) {
            String[] row = table.rows.get(i);
            if (row[text] == null || row[label] == null) {
                throw new IllegalArgumentException(file + ": row " + (i + 1) + " has no \"" + (row[text] == null
                        ? columns.text() : columns.label()) + "\"");
            }
            rows.add(new LabeledText(row[text], row[label], split < 0 ? null : row[split]));
        }
        return rows;
    }

    private enum Format {
        TSV, CSV, JSONL;

        static Format of(Path file) {
            String name = file.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
            if (name.endsWith(".tsv")) {
                return TSV;
            } else if (name.endsWith(".csv")) {
                return CSV;
            } else if (name.endsWith(".jsonl") || name.endsWith(".json")) {
                return JSONL;
            }
            throw new IllegalArgumentException(file + ": unknown format; expected a .tsv, .csv or .jsonl file");
        }
    }

    /** A header and rows of the same width. */
    private record Table(List<String> header, List<String[]> rows) {}

    private static Table readTable(Path file, Format format) throws IOException {
        String content = Files.readString(file, StandardCharsets.UTF_8);
        if (format == Format.JSONL) {
            return readJsonLines(content, file);
        }
        List<List<String>> records = format == Format.TSV ? splitTsv(content) : splitCsv(content, file);
        if (records.isEmpty()) {
            throw new IllegalArgumentException(file + ": the file is empty; expected a header line");
        }
        List<String> header = records.get(0);
        List<String[]> rows = new ArrayList<>();
        for (int i = 1; i < records.size(); i++) {
            List<String> fields = records.get(i);
            if (fields.size() == 1 && fields.get(0).isEmpty()) {
                continue;
            }
            if (fields.size() != header.size()) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected " + header.size() + " "
                        + (format == Format.TSV ? "tab" : "comma") + "-separated fields " + header + ", found "
                        + fields.size());
            }
            rows.add(fields.toArray(new String[0]));
        }
        return new Table(header, rows);
    }

    private static List<List<String>> splitTsv(String content) {
        List<List<String>> records = new ArrayList<>();
        for (String line : content.split("\r?\n", -1)) {
            records.add(Arrays.asList(line.split("\t", -1)));
        }
        if (!records.isEmpty() && records.get(records.size() - 1).equals(List.of(""))) {
            records.remove(records.size() - 1);
        }
        return records;
    }

    /** RFC 4180: fields in double quotes may hold commas, line breaks and doubled quotes. */
    private static List<List<String>> splitCsv(String content, Path file) {
        List<List<String>> records = new ArrayList<>();
        List<String> record = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (int i = 0; i < content.length(); i++) {
            char c = content.charAt(i);
            any = true;
            if (quoted) {
                if (c == '"' && i + 1 < content.length() && content.charAt(i + 1) == '"') {
                    field.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    field.append(c);
                }
            } else if (c == '"' && field.length() == 0) {
                quoted = true;
            } else if (c == ',') {
                record.add(field.toString());
                field.setLength(0);
            } else if (c == '\n' || c == '\r') {
                if (c == '\r' && i + 1 < content.length() && content.charAt(i + 1) == '\n') {
                    i++;
                }
                record.add(field.toString());
                field.setLength(0);
                records.add(record);
                record = new ArrayList<>();
                any = false;
            } else {
                field.append(c);
            }
        }
        if (quoted) {
            throw new IllegalArgumentException(file + ": a quoted field is not closed before the end of the file");
        }
        if (any) {
            record.add(field.toString());
            records.add(record);
        }
        return records;
    }

    private static Table readJsonLines(String content, Path file) {
        List<String> header = new ArrayList<>();
        List<com.fasterxml.jackson.databind.JsonNode> objects = new ArrayList<>();
        String[] lines = content.split("\r?\n");
        for (int i = 0; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            com.fasterxml.jackson.databind.JsonNode node;
            try {
                node = JSON.readTree(lines[i]);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": not a JSON object: " + e.getOriginalMessage());
            }
            if (!node.isObject()) {
                throw new IllegalArgumentException(file + ":" + (i + 1) + ": expected a JSON object per line");
            }
            node.fieldNames().forEachRemaining(name -> {
                if (!header.contains(name)) {
                    header.add(name);
                }
            });
            objects.add(node);
        }
        List<String[]> rows = new ArrayList<>();
        for (com.fasterxml.jackson.databind.JsonNode node : objects) {
            String[] row = new String[header.size()];
            for (int c = 0; c < row.length; c++) {
                com.fasterxml.jackson.databind.JsonNode v = node.get(header.get(c));
                row[c] = v == null || v.isNull() ? null : v.asText();
            }
            rows.add(row);
        }
        return new Table(header, rows);
    }

    private static int column(List<String> columns, String name, Path file) {
        int index = columns.indexOf(name);
        if (index < 0) {
            throw new IllegalArgumentException(file + ": no \"" + name + "\" column; the file has " + columns);
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
