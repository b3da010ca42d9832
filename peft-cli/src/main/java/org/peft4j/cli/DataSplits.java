package org.peft4j.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.api.data.LabeledText;

/**
 * The rows of a dataset split into train, dev and test. A file with a split column gives its rows
 * marked train, dev (or validation, eval) and test; a file without one trains on every row. Either
 * way, when no row is dev data, {@code val_size} of the training rows are held out as dev data (a
 * seeded random share); with {@code val_size} 0 the run has no dev set, and says so once.
 *
 * @param train the rows that train
 * @param dev the rows evaluated after each epoch (may be empty)
 * @param test the rows evaluated after training (may be empty)
 */
record DataSplits(List<LabeledText> train, List<LabeledText> dev, List<LabeledText> test) {

    /**
     * Splits {@code rows} of {@code file}, printing one line to {@code notes} when dev data is held
     * out or missing.
     *
     * @throws IllegalArgumentException if the split column marks no row train
     */
    static DataSplits of(List<LabeledText> rows, double valSize, long seed, Path file, PrintStream notes) {
        List<LabeledText> train = new ArrayList<>();
        List<LabeledText> dev = new ArrayList<>();
        List<LabeledText> test = new ArrayList<>();
        boolean hasSplits = rows.stream().anyMatch(r -> r.split() != null);
        for (LabeledText r : rows) {
            // without a split column every row trains; with one, a row in no known split is left out
            String s = r.split() != null ? r.split().toLowerCase(Locale.ROOT) : hasSplits ? "" : "train";
            if (s.equals("train")) {
                train.add(r);
            } else if (s.equals("dev") || s.equals("validation") || s.equals("eval")) {
                dev.add(r);
            } else if (s.equals("test")) {
                test.add(r);
            }
        }
        if (train.isEmpty()) {
            throw new IllegalArgumentException(file + ": the split column marks no row \"train\"");
        }
        if (!dev.isEmpty()) {
            return new DataSplits(train, dev, test);
        }
        String where = hasSplits ? file + " has no dev rows" : file + " has no split column";
        if (valSize == 0) {
            notes.println(where + " and val_size is 0: no dev set, so no evaluation after each epoch and no best/");
            return new DataSplits(train, dev, test);
        }
        Collections.shuffle(train, new Random(seed));
        int held = (int) Math.round(train.size() * valSize);
        notes.printf(Locale.ROOT, "%s: holding out val_size %s of the training rows (%d) as dev data%n", where,
                valSize, held);
        return new DataSplits(train.subList(held, train.size()), train.subList(0, held), test);
    }

    /**
     * At most {@code maxSamples} rows of each split, a seeded random sample of those that have
     * more (LLaMA-Factory's {@code max_samples}, which caps each dataset); all of them if null.
     */
    DataSplits limit(Integer maxSamples, long seed) {
        if (maxSamples == null) {
            return this;
        }
        return new DataSplits(sample(train, maxSamples, seed), sample(dev, maxSamples, seed),
                sample(test, maxSamples, seed));
    }

    /** A seeded random sample of at most {@code n} of {@code rows}, or all of them in their order if there are no more. */
    static List<LabeledText> sample(List<LabeledText> rows, int n, long seed) {
        if (rows.size() <= n) {
            return rows;
        }
        List<LabeledText> shuffled = new ArrayList<>(rows);
        Collections.shuffle(shuffled, new Random(seed));
        return List.copyOf(shuffled.subList(0, n));
    }

    /**
     * Fails if {@code rows} have labels outside {@code labels}.
     *
     * @param where names the rows in the message
     */
    static void requireKnownLabels(List<LabeledText> rows, List<String> labels, String where) {
        Set<String> unknown = new TreeSet<>();
        rows.forEach(r -> {
            if (!labels.contains(r.label())) {
                unknown.add(r.label());
            }
        });
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException(where + " has labels the model was not trained on: " + unknown
                    + "; it knows " + labels);
        }
    }
}
