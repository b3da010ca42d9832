package org.peft4j.api.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pairs read from two-column tables, and split from subject | body texts. */
class TextPairsTest {
    @TempDir
    Path dir;

    @Test
    void tsvCsvAndJsonLinesGiveTheSamePairs() throws Exception {
        Path tsv = dir.resolve("pairs.tsv");
        Files.writeString(tsv, "anchor\tpositive\tsplit\nwhat is lora\tlow-rank adapters\ttrain\nhi\thello\ttest\n");
        Path csv = dir.resolve("pairs.csv");
        Files.writeString(csv, "anchor,positive,split\nwhat is lora,\"low-rank adapters\",train\nhi,hello,test\n");
        Path jsonl = dir.resolve("pairs.jsonl");
        Files.writeString(jsonl, "{\"anchor\": \"what is lora\", \"positive\": \"low-rank adapters\", \"split\": \"train\"}\n"
                + "\n{\"anchor\": \"hi\", \"positive\": \"hello\", \"split\": \"test\"}\n");
        List<TextPair> expected = List.of(new TextPair("what is lora", "low-rank adapters", "train"),
                new TextPair("hi", "hello", "test"));
        for (Path file : List.of(tsv, csv, jsonl)) {
            assertThat(TextPairs.read(file, TextPairs.Columns.DEFAULT)).as(file.toString()).isEqualTo(expected);
        }
        Path noSplit = dir.resolve("qa.tsv");
        Files.writeString(noSplit, "question\tanswer\nq\ta\n");
        assertThat(TextPairs.read(noSplit, new TextPairs.Columns("question", "answer", "split")))
                .containsExactly(new TextPair("q", "a", null));
    }

    @Test
    void errorsNameTheFileAndTheLineOrRow() throws Exception {
        Path tsv = dir.resolve("bad.tsv");
        Files.writeString(tsv, "anchor\tpositive\nok\tfine\nonly one field\n");
        assertThatThrownBy(() -> TextPairs.read(tsv, TextPairs.Columns.DEFAULT))
                .hasMessageContaining(tsv + ":3: expected 2 tab-separated fields");
        Path empty = dir.resolve("empty.tsv");
        Files.writeString(empty, "anchor\tpositive\nok\tfine\nsubject\t  \n");
        assertThatThrownBy(() -> TextPairs.read(empty, TextPairs.Columns.DEFAULT))
                .hasMessageContaining(empty + ": row 2 has an empty \"positive\"");
        assertThatThrownBy(() -> TextPairs.read(empty, new TextPairs.Columns("query", "positive", "split")))
                .hasMessageContaining("no \"query\" column; the file has [anchor, positive]");
    }

    @Test
    void subjectBodyTextsSplitAtTheFirstSeparatorAndEmptySidesAreSkipped() {
        List<LabeledText> rows = List.of(new LabeledText("Re: lunch | see you at 12 | bring the slides", "ham", "dev"),
                new LabeledText(" | a body without a subject", "spam", "train"),
                new LabeledText("a subject without a body | ", "spam", "train"),
                new LabeledText("no separator at all", "ham", "train"));
        assertThat(TextPairs.splitEach(rows, " | "))
                .containsExactly(new TextPair("Re: lunch", "see you at 12 | bring the slides", "dev"));
        assertThat(TextPairs.split(TextPairs.splitEach(rows, " | "), "train")).isEmpty();
    }
}
