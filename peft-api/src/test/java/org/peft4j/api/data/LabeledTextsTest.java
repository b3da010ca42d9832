package org.peft4j.api.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabeledTextsTest {
    @Test
    void readsTheBundledSpamData() throws Exception {
        List<LabeledText> rows = LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv"));
        assertThat(rows).hasSize(6046);
        assertThat(LabeledTexts.labels(rows)).containsExactly("ham", "spam");
        List<LabeledText> dev = LabeledTexts.split(rows, "dev");
        assertThat(dev).hasSize(606);
        assertThat(dev.stream().filter(r -> r.label().equals("ham")).count()).isEqualTo(422);
    }

    @Test
    void namesAMissingColumnAndABadRow(@TempDir Path dir) throws Exception {
        Path noLabel = dir.resolve("a.tsv");
        Files.writeString(noLabel, "text\tsplit\nhello\ttrain\n");
        assertThatThrownBy(() -> LabeledTexts.readTsv(noLabel)).hasMessageContaining("no \"label\" column");
        Path ragged = dir.resolve("b.tsv");
        Files.writeString(ragged, "label\ttext\nham\thello\nspam\n");
        assertThatThrownBy(() -> LabeledTexts.readTsv(ragged)).hasMessageContaining("b.tsv:3: expected 2");
    }

    @Test
    void readsCsvWithQuotingAndJsonLinesWithNamedColumns(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("d.csv");
        Files.writeString(csv, "body,kind\n\"Hello, \"\"world\"\"\nsecond line\",greeting\r\nplain,other\n");
        List<LabeledText> rows = LabeledTexts.read(csv, new LabeledTexts.Columns("body", "kind", "split"));
        assertThat(rows).containsExactly(new LabeledText("Hello, \"world\"\nsecond line", "greeting", null),
                new LabeledText("plain", "other", null));
        Path jsonl = dir.resolve("d.jsonl");
        Files.writeString(jsonl, "{\"text\": \"a\", \"label\": 1, \"split\": \"test\"}\n\n{\"text\": \"b\", \"label\": 0}\n");
        assertThat(LabeledTexts.read(jsonl, LabeledTexts.Columns.DEFAULT)).containsExactly(
                new LabeledText("a", "1", "test"), new LabeledText("b", "0", null));
        assertThat(LabeledTexts.readTexts(jsonl, "text")).containsExactly("a", "b");
        assertThatThrownBy(() -> LabeledTexts.read(csv, LabeledTexts.Columns.DEFAULT))
                .hasMessageContaining("no \"text\" column; the file has [body, kind]");
        Files.writeString(csv, "text,label\n\"never closed,x\n");
        assertThatThrownBy(() -> LabeledTexts.read(csv, LabeledTexts.Columns.DEFAULT))
                .hasMessageContaining("a quoted field is not closed");
        Files.writeString(jsonl, "{\"text\": \"a\"}\n");
        assertThatThrownBy(() -> LabeledTexts.read(jsonl, LabeledTexts.Columns.DEFAULT))
                .hasMessageContaining("no \"label\" column");
        Files.writeString(jsonl, "{\"text\": \"a\", \"label\": \"x\"}\n{\"text\": \"b\"}\n");
        assertThatThrownBy(() -> LabeledTexts.read(jsonl, LabeledTexts.Columns.DEFAULT))
                .hasMessageContaining("row 2 has no \"label\"");
        assertThatThrownBy(() -> LabeledTexts.read(dir.resolve("d.parquet"), LabeledTexts.Columns.DEFAULT))
                .hasMessageContaining("expected a .tsv, .csv or .jsonl file");
    }
}
