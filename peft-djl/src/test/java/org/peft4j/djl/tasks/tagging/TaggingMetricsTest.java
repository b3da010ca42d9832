package org.peft4j.djl.tasks.tagging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Entities and scores worked out by hand from seqeval's default (lenient) chunking rules. */
class TaggingMetricsTest {
    @Test
    void chunksAsSeqevalDoes() {
        // IOB2: a chunk runs from B over the I of its type
        assertThat(EntityChunker.entities(List.of("B-PER", "I-PER", "O", "B-LOC")))
                .containsExactly(new Entity("PER", 0, 1), new Entity("LOC", 3, 3));
        // I after O starts a chunk (IOB1, or a model's mistake)
        assertThat(EntityChunker.entities(List.of("O", "I-PER", "I-PER"))).containsExactly(new Entity("PER", 1, 2));
        assertThat(EntityChunker.entities(List.of("I-MISC", "I-MISC", "O"))).containsExactly(new Entity("MISC", 0, 1));
        // a type change ends one chunk and starts another; B after B too
        assertThat(EntityChunker.entities(List.of("B-PER", "I-LOC")))
                .containsExactly(new Entity("PER", 0, 0), new Entity("LOC", 1, 1));
        assertThat(EntityChunker.entities(List.of("B-PER", "B-PER")))
                .containsExactly(new Entity("PER", 0, 0), new Entity("PER", 1, 1));
        // IOBES: S is a chunk of its own; E ends one, and an E after E starts (and ends) another:
        // S-LOC | B-PER I-PER E-PER | E-PER
        assertThat(EntityChunker.entities(List.of("S-LOC", "B-PER", "I-PER", "E-PER", "E-PER")))
                .containsExactly(new Entity("LOC", 0, 0), new Entity("PER", 1, 3), new Entity("PER", 4, 4));
        assertThat(EntityChunker.entities(List.of("O", "O"))).isEmpty();
    }

    @Test
    void scoresEntitiesMicroAveragedPerTypeAndWords() {
        List<List<String>> truth = List.of(
                List.of("B-PER", "I-PER", "O", "B-LOC", "O"), // PER(0,1) LOC(3,3)
                List.of("B-ORG", "O", "B-PER"));              // ORG(0,0) PER(2,2)
        List<List<String>> predicted = List.of(
                List.of("B-PER", "I-PER", "O", "O", "B-LOC"), // PER(0,1) right, LOC(4,4) wrong
                List.of("B-ORG", "O", "I-PER"));              // ORG(0,0) right, PER(2,2) right (I after O starts it)
        TaggingMetrics m = TaggingMetrics.of(truth, predicted);
        // 4 true entities, 4 predicted, 3 correct: P = R = 3/4, F1 = 3/4
        assertThat(m.precision()).isCloseTo(0.75, within(1e-12));
        assertThat(m.recall()).isCloseTo(0.75, within(1e-12));
        assertThat(m.f1()).isCloseTo(0.75, within(1e-12));
        // words: sentence 1 right at 0, 1, 2 (3 of 5), sentence 2 at 0, 1 (2 of 3): 5 / 8
        assertThat(m.accuracy()).isCloseTo(0.625, within(1e-12));
        assertThat(m.perType()).containsOnlyKeys("LOC", "ORG", "PER");
        assertThat(m.perType().get("PER")).isEqualTo(new TaggingMetrics.TypeScore(1, 1, 1, 2));
        assertThat(m.perType().get("LOC")).isEqualTo(new TaggingMetrics.TypeScore(0, 0, 0, 1));
        assertThat(m.perType().get("ORG")).isEqualTo(new TaggingMetrics.TypeScore(1, 1, 1, 1));
    }

    @Test
    void precisionAndRecallDifferAndEmptyDenominatorsGiveZero() {
        // true A(0,0) B(2,2) A(4,4); predicted A(0,0) only: P = 1/1, R = 1/3, F1 = 2 * 1 * 1/3 / (4/3) = 1/2
        TaggingMetrics m = TaggingMetrics.of(List.of(List.of("B-A", "O", "B-B", "O", "B-A")),
                List.of(List.of("B-A", "O", "O", "O", "O")));
        assertThat(m.precision()).isCloseTo(1.0, within(1e-12));
        assertThat(m.recall()).isCloseTo(1.0 / 3, within(1e-12));
        assertThat(m.f1()).isCloseTo(0.5, within(1e-12));
        assertThat(m.accuracy()).isCloseTo(3.0 / 5, within(1e-12));
        // A: 1 right of 1 predicted and 2 true; B: none predicted (precision 0, as seqeval's zero_division)
        assertThat(m.perType().get("A").recall()).isCloseTo(0.5, within(1e-12));
        assertThat(m.perType().get("B")).isEqualTo(new TaggingMetrics.TypeScore(0, 0, 0, 1));
        TaggingMetrics none = TaggingMetrics.of(List.of(List.of("B-A", "O")), List.of(List.of("O", "O")));
        assertThat(List.of(none.precision(), none.recall(), none.f1())).containsOnly(0.0);
        assertThat(none.accuracy()).isCloseTo(0.5, within(1e-12));
    }
}
