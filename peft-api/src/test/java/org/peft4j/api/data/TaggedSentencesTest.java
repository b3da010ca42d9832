package org.peft4j.api.data;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaggedSentencesTest {
    @Test
    void readsConllWithDocstartMiddleColumnsAndBlankLines(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("train.conll");
        Files.writeString(file, "-DOCSTART- -X- -X- O\n\n"
                + "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n\n\n"
                + "Peter\tB-PER\r\nBlackburn   I-PER\n");
        assertThat(TaggedSentences.readConll(file)).containsExactly(
                new TaggedSentence(List.of("EU", "rejects", "German"), List.of("B-ORG", "O", "B-MISC")),
                new TaggedSentence(List.of("Peter", "Blackburn"), List.of("B-PER", "I-PER")));
        assertThat(TaggedSentences.read(file)).hasSize(2);
    }

    @Test
    void readsJsonLines(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("train.jsonl");
        Files.writeString(file, "{\"tokens\": [\"John\", \"lives\"], \"tags\": [\"B-PER\", \"O\"], \"id\": 7}\n\n"
                + "{\"tags\": [\"B-LOC\"], \"tokens\": [\"Paris\"]}\n");
        assertThat(TaggedSentences.read(file)).containsExactly(
                new TaggedSentence(List.of("John", "lives"), List.of("B-PER", "O")),
                new TaggedSentence(List.of("Paris"), List.of("B-LOC")));
        assertThat(TaggedSentences.tags(TaggedSentences.read(file))).containsExactly("B-LOC", "B-PER", "O");
    }

    @Test
    void namesTheFileAndLineOfAMalformedLine(@TempDir Path dir) throws Exception {
        Path conll = dir.resolve("bad.conll");
        Files.writeString(conll, "John B-PER\n\nlives\n");
        assertThatThrownBy(() -> TaggedSentences.readConll(conll))
                .hasMessageStartingWith(conll + ", line 3: expected a token and its tag").hasMessageContaining("\"lives\"");
        Path lengths = dir.resolve("lengths.jsonl");
        Files.writeString(lengths, "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n{\"tokens\": [\"a\", \"b\"], \"tags\": [\"O\"]}\n");
        assertThatThrownBy(() -> TaggedSentences.readJsonl(lengths))
                .hasMessage(lengths + ", line 2: 2 tokens but 1 tags; each token needs one tag");
        Path json = dir.resolve("json.jsonl");
        Files.writeString(json, "{\"tokens\": [\"a\"], \"tags\": [\"O\"]}\n\n{\"tokens\": [\"a\"\n");
        assertThatThrownBy(() -> TaggedSentences.readJsonl(json)).hasMessageStartingWith(json + ", line 3: not valid JSON");
        Path missing = dir.resolve("missing.jsonl");
        Files.writeString(missing, "{\"tokens\": [\"a\"], \"ner_tags\": [0]}\n");
        assertThatThrownBy(() -> TaggedSentences.readJsonl(missing))
                .hasMessage(missing + ", line 1: expected \"tags\" to be an array of strings, got no such key");
        Path number = dir.resolve("number.jsonl");
        Files.writeString(number, "{\"tokens\": [\"a\"], \"tags\": [3]}\n");
        assertThatThrownBy(() -> TaggedSentences.readJsonl(number))
                .hasMessage(number + ", line 1: \"tags\" item 1 is not a string: 3");
        assertThatThrownBy(() -> TaggedSentences.read(dir.resolve("x.parquet"))).hasMessageContaining("unknown tagged-data format");
    }
}
