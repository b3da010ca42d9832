package org.peft4j.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.internal.ConfigRegex;
import org.peft4j.api.internal.ModulePatterns;

/**
 * Regular expressions from configs match as Python's {@code re} does in Hugging Face PEFT (the
 * expected values below were computed with Python 3's {@code re.fullmatch} and, for pattern keys,
 * {@code re.match(rf"(.*\.)?({key})$", path)}), in linear time, and bombs are refused by name.
 */
class ConfigRegexTest {
    private static final List<String> PATHS = List.of("encoder.layer.0.attention.self.query",
            "encoder.layer.10.attention.self.value", "classifier", "encoder.layer.1.output.dense", "q");

    private static String fullMatches(String regex) {
        ConfigRegex r = ConfigRegex.compile(regex, "target_modules");
        StringBuilder out = new StringBuilder();
        PATHS.forEach(p -> out.append(r.fullMatch(p) ? 'T' : 'F'));
        return out.toString();
    }

    private static String keyMatches(String key) {
        StringBuilder out = new StringBuilder();
        PATHS.forEach(p -> out.append(ModulePatterns.patternKeyMatches(key, p) ? 'T' : 'F'));
        return out.toString();
    }

    @ParameterizedTest(name = "re.fullmatch({0}) over the paths: {1}")
    @CsvSource(delimiter = ' ', value = {
        ".*\\.(query|value) TTFFF",
        "encoder\\.layer\\.1\\d?\\..* FTFTF",
        "classifier FFTFF",
        ".*query TFFFF",
        "q{,2} FFFFT",
        ".*dense\\Z FFFTF",
        "(?i).*QUERY TFFFF"})
    void targetModulesMatchAsPythonsFullmatch(String regex, String expected) {
        assertThat(fullMatches(regex)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "pattern key {0} over the paths: {1}")
    @CsvSource(delimiter = ' ', value = {
        "query TFFFF",
        "self.query TFFFF",
        "layer.1.* FTFTF",
        "0.attention.self.query TFFFF",
        "ery FFFFF",
        "a)|(classifier TTTFF",
        "layer\\.\\d+\\.output\\.dense FFFTF",
        "q FFFFT"})
    void patternKeysMatchAsPeftsGetPatternKey(String key, String expected) {
        assertThat(keyMatches(key)).isEqualTo(expected);
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS) // a hang guard: a backtracking engine takes years here
    void catastrophicBacktrackingPatternsRunInLinearTime() {
        String path = "encoder.layer.0.attention.self.query.".repeat(20);
        assertThat(ConfigRegex.compile("(.*){12}!", "target_modules").fullMatch(path)).isFalse();
        assertThat(ConfigRegex.compile("(a|aa)*b", "exclude_modules").fullMatch("a".repeat(5000))).isFalse();
        assertThat(ModulePatterns.patternKeyMatches("(.*){12}!", path)).isFalse();
        assertThat(ModulePatterns.patternKeyMatches("(x+x+)+y", "x".repeat(5000))).isFalse();
    }

    @Test
    void patternsThatWouldCompileHugeAreRefusedByName() {
        assertThatThrownBy(() -> ConfigRegex.compile("((((a{1000}){1000}){1000}){1000})", "target_modules"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("target_modules: \"((((a{1000}){1000}){1000}){1000})\" is too large a regular expression");
        assertThatThrownBy(() -> ConfigRegex.patternKey("(?:x{100}){100}", "rank_pattern"))
                .hasMessageStartingWith("rank_pattern key \"(?:x{100}){100}\" is too large");
        assertThatThrownBy(() -> ConfigRegex.compile("(".repeat(500) + ")".repeat(500), "exclude_modules"))
                .hasMessageContaining("exclude_modules").hasMessageContaining("nests groups deeper than 100 levels");
        // the bound still leaves room for anything a person writes
        assertThat(ConfigRegex.compile("(a{100}){10}", "target_modules").fullMatch("a".repeat(1000))).isTrue();
    }

    @Test
    void malformedPatternsAndPythonOnlyFeaturesAreRefusedByName() {
        assertThatThrownBy(() -> ConfigRegex.compile("query(", "target_modules"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("target_modules: \"query(\" is not a regular expression peft4j can match");
        assertThatThrownBy(() -> ConfigRegex.compile(".*(?<!self)\\.query", "exclude_modules"))
                .hasMessageContaining("exclude_modules").hasMessageContaining("without look-around");
        assertThatThrownBy(() -> ConfigRegex.patternKey("(a)\\1", "alpha_pattern"))
                .hasMessageStartingWith("alpha_pattern key \"(a)\\\\1\" is not a regular expression");
    }
}
