package org.peft4j.api.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Reads (anchor, positive) pairs: from a table with two text columns (a .tsv, .csv or .jsonl file,
 * read as {@link LabeledTexts} reads tables, an optional split column included), or by splitting
 * each text of labelled data in two, as the bundled spam data's {@code subject | body} texts split.
 */
public final class TextPairs {
    private TextPairs() {}

    /**
     * The names of the columns to read.
     *
     * @param anchor the anchor column
     * @param positive the positive column
     * @param split the split column (train, dev, test); optional in the file
     */
    public record Columns(String anchor, String positive, String split) {
        /** {@code anchor}, {@code positive} and {@code split}, as sentence-transformers names pair columns. */
        public static final Columns DEFAULT = new Columns("anchor", "positive", "split");
    }

    /**
     * Reads every row of a .tsv, .csv or .jsonl file (by its extension) as a pair.
     *
     * @throws IllegalArgumentException naming the file and the line or row if the format is
     *     unknown, a column is missing, a row is malformed, or a row's anchor or positive is blank
     */
    public static List<TextPair> read(Path file, Columns columns) throws IOException {
        List<LabeledText> rows = LabeledTexts.read(file, new LabeledTexts.Columns(columns.anchor(), columns.positive(),
                columns.split()));
        List<TextPair> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            LabeledText row = rows.get(i);
            if (row.text().isBlank() || row.label().isBlank()) {
                throw new IllegalArgumentException(file + ": row " + (i + 1) + " has an empty \"" + (row.text().isBlank()
                        ? columns.anchor() : columns.positive()) + "\"; every pair needs both texts");
            }
            out.add(new TextPair(row.text(), row.label(), row.split()));
        }
        return out;
    }

    /**
     * Splits each text at the first {@code separator} into an anchor (before it) and a positive
     * (after it), both stripped of surrounding white space, keeping each row's split; a text without
     * the separator, or with nothing on one side of it, gives no pair. On the bundled spam data
     * ({@code subject | first words of the body}) with {@code " | "} this gives (subject, body) pairs.
     */
    public static List<TextPair> splitEach(List<LabeledText> rows, String separator) {
        if (separator.isEmpty()) {
            throw new IllegalArgumentException("the separator must not be empty");
        }
        List<TextPair> out = new ArrayList<>(rows.size());
        for (LabeledText row : rows) {
            int at = row.text().indexOf(separator);
            if (at < 0) {
                continue;
            }
            String anchor = row.text().substring(0, at).strip();
            String positive = row.text().substring(at + separator.length()).strip();
            if (!anchor.isEmpty() && !positive.isEmpty()) {
                out.add(new TextPair(anchor, positive, row.split()));
            }
        }
        return out;
    }

    /** Returns the pairs of one split. */
    public static List<TextPair> split(List<TextPair> pairs, String split) {
        return pairs.stream().filter(p -> split.equals(p.split())).collect(Collectors.toList());
    }
}
