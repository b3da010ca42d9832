package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.api.data.LabeledText;

/** Train, dev and test rows: dev held out of train when the file has none, max_samples on each split. */
class DataSplitsTest {
    private static List<LabeledText> rows(int train, int dev, int test) {
        List<LabeledText> rows = new ArrayList<>();
        for (int i = 0; i < train + dev + test; i++) {
            rows.add(new LabeledText("text " + i, i % 2 == 0 ? "ham" : "spam",
                    i < train ? "train" : i < train + dev ? "dev" : "test"));
        }
        return rows;
    }

    @Test
    void withoutDevRowsValSizeOfTheTrainingRowsIsHeldOutAndSaidOnce() {
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        List<LabeledText> rows = rows(64, 0, 16);
        DataSplits splits = DataSplits.of(rows, 0.25, 42, Path.of("d.tsv"),
                new PrintStream(notes, true, StandardCharsets.UTF_8));
        assertThat(notes.toString(StandardCharsets.UTF_8))
                .isEqualTo("d.tsv has no dev rows: holding out val_size 0.25 of the training rows (16) as dev data\n");
        assertThat(splits.train()).hasSize(48);
        assertThat(splits.dev()).hasSize(16).doesNotContainAnyElementsOf(splits.train());
        HashSet<LabeledText> together = new HashSet<>(splits.train());
        together.addAll(splits.dev());
        assertThat(together).containsExactlyInAnyOrderElementsOf(rows.subList(0, 64));
        assertThat(splits.test()).isEqualTo(rows.subList(64, 80));
    }

    @Test
    void givenDevRowsAreKeptAndMaxSamplesCapsEachSplit() {
        ByteArrayOutputStream notes = new ByteArrayOutputStream();
        DataSplits splits = DataSplits.of(rows(40, 10, 30), 0.1, 42, Path.of("d.tsv"),
                new PrintStream(notes, true, StandardCharsets.UTF_8)).limit(20, 42);
        assertThat(notes.size()).isZero();
        assertThat(splits.train()).hasSize(20);
        assertThat(splits.dev()).hasSize(10).allMatch(r -> r.split().equals("dev"));
        assertThat(splits.test()).hasSize(20).allMatch(r -> r.split().equals("test"));
        // the same seed draws the same sample, which eval --max-samples relies on
        assertThat(DataSplits.sample(rows(40, 10, 30).subList(50, 80), 20, 42)).isEqualTo(splits.test());
        assertThatThrownBy(() -> DataSplits.of(rows(0, 5, 5), 0.1, 42, Path.of("d.tsv"), System.out))
                .hasMessage("d.tsv: the split column marks no row \"train\"");
    }
}
