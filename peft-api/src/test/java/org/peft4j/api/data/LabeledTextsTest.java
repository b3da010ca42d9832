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
}
