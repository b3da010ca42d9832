package org.peft4j.djl.sft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * BLEU-4 and ROUGE as LLaMA-Factory computes them. The BLEU-4 values are NLTK 3.8's
 * ({@code sentence_bleu([list(label)], list(pred), smoothing_function=SmoothingFunction().method3)},
 * Debian's python3-nltk), the word lists jieba 0.42.1's cut less its whitespace; the ROUGE values
 * are worked by hand from rouge_chinese's definitions.
 */
class SimilarityMetricsTest {
    @Test
    void bleu4IsNltksSentenceBleuOnCharactersWithMethod3() {
        Object[][] nltk = {
            {"Paris is the capital.", "The capital is Paris.", 73.3592},
            {"paris", "paris", 100.0},
            {"rome city", "madrid city", 38.8751},
            {"a", "abcdef", 0.2382},
            {"The quick brown fox jumps over 3.5% of dogs, twice!", "The quick brown fox jumped over 3.5% of the lazy dogs.",
                74.3666},
            {"xyz", "abc", 0.0},
            {"hello world hello", "hello hello world", 89.3865},
            {"e-mail me@x.org", "email me", 41.3744},
        };
        for (Object[] row : nltk) {
            assertThat(100 * SimilarityMetrics.bleu4((String) row[0], (String) row[1])).as("%s | %s", row[0], row[1])
                    .isCloseTo((Double) row[2], within(5e-5));
        }
        assertThat(SimilarityMetrics.bleu4("", "abc")).isZero();
    }

    @Test
    void wordsAreJiebasCutOfEnglishText() {
        assertThat(SimilarityMetrics.words("The quick brown fox jumps over 3.5% of dogs, twice!")).containsExactly("The",
                "quick", "brown", "fox", "jumps", "over", "3.5%", "of", "dogs", ",", "twice", "!");
        assertThat(SimilarityMetrics.words("e-mail me@x.org")).containsExactly("e", "-", "mail", "me", "@", "x", ".", "org");
        assertThat(SimilarityMetrics.words("  \n ")).isEmpty();
    }

    @Test
    void rougeIsF1OverDistinctNgramsAndTheLongestCommonSubsequence() {
        List<String> hypothesis = SimilarityMetrics.words("Paris is the capital.");
        List<String> reference = SimilarityMetrics.words("The capital is Paris.");
        // distinct unigrams: {Paris, is, capital, .} shared of 5 each: P = R = 4/5
        assertThat(SimilarityMetrics.rougeN(hypothesis, reference, 1)).isCloseTo(0.8, within(1e-7));
        // no bigram in common
        assertThat(SimilarityMetrics.rougeN(hypothesis, reference, 2)).isZero();
        // longest common subsequence 2 ("capital ."): P = R = 2/5
        assertThat(SimilarityMetrics.rougeL(hypothesis, reference)).isCloseTo(0.4, within(1e-7));
        // repeats count once in ROUGE-N (sets), in order for ROUGE-L: "a a b" vs "a b": R1 P = R = 1, LCS 2: P 2/3, R 1
        List<String> repeated = List.of("a", "a", "b");
        assertThat(SimilarityMetrics.rougeN(repeated, List.of("a", "b"), 1)).isCloseTo(1.0, within(1e-7));
        assertThat(SimilarityMetrics.rougeL(repeated, List.of("a", "b"))).isCloseTo(2 * (2 / 3.0) / (2 / 3.0 + 1), within(1e-7));
        assertThat(SimilarityMetrics.rougeL(List.of(), reference)).isZero();
    }

    @Test
    void scoresAreMeansOfRoundedPercentages() {
        SimilarityMetrics.Scores scores = SimilarityMetrics.score(List.of("Paris is the capital.", "paris"),
                List.of("The capital is Paris.", "paris"));
        assertThat(scores.bleu4()).isCloseTo((73.3592 + 100) / 2, within(1e-9));
        assertThat(scores.rouge1()).isCloseTo((80.0 + 100) / 2, within(1e-9));
        // "paris" has no bigram: ROUGE-2 is 0 for both
        assertThat(scores.rouge2()).isZero();
        assertThat(scores.rougeL()).isCloseTo((40.0 + 100) / 2, within(1e-9));
        assertThatThrownBy(() -> SimilarityMetrics.score(List.of("a"), List.of())).hasMessageContaining("got 1 and 0");
    }
}
