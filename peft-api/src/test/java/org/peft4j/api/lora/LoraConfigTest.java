package org.peft4j.api.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class LoraConfigTest {

    @Test
    void defaultsAreHuggingFacePeftDefaults() {
        LoraConfig c = LoraConfig.builder().setTargetModules("query").build();
        assertThat(c.r()).isEqualTo(8);
        assertThat(c.loraAlpha()).isEqualTo(8f);
        assertThat(c.loraDropout()).isZero();
        assertThat(c.bias()).isEqualTo(LoraBias.NONE);
        assertThat(c.initLoraWeights()).isEqualTo(LoraInit.KAIMING_UNIFORM);
        assertThat(c.useRslora()).isFalse();
        assertThat(c.scalingFor("x.query")).isEqualTo(1f);
    }

    @Test
    void badValuesFailAtOnceNamingTheField() {
        assertThatThrownBy(() -> LoraConfig.builder().optR(0).setTargetModules("q").build())
                .isInstanceOf(IllegalArgumentException.class).hasMessage("r must be a positive integer, got 0");
        assertThatThrownBy(() -> LoraConfig.builder().optR(-3).setTargetModules("q").build()).hasMessageContaining("r must");
        assertThatThrownBy(() -> LoraConfig.builder().optLoraAlpha(Float.NaN).setTargetModules("q").build())
                .hasMessage("lora_alpha must be a finite positive number, got NaN");
        assertThatThrownBy(() -> LoraConfig.builder().optLoraAlpha(Float.POSITIVE_INFINITY).setTargetModules("q").build())
                .hasMessageContaining("lora_alpha");
        assertThatThrownBy(() -> LoraConfig.builder().optLoraDropout(1f).setTargetModules("q").build())
                .hasMessageContaining("lora_dropout must be in [0, 1), got 1.0");
        assertThatThrownBy(() -> LoraConfig.builder().build()).hasMessageContaining("target_modules must be set");
        assertThatThrownBy(() -> LoraConfig.builder().setTargetModules().build())
                .hasMessageContaining("target_modules must name at least one module");
        assertThatThrownBy(() -> LoraConfig.builder().setTargetModulesRegex("(unclosed").build())
                .hasMessageContaining("target_modules: \"(unclosed\" is not a regular expression");
        assertThatThrownBy(() -> LoraConfig.builder().setTargetModules("q").optRankPattern("q", 0).build())
                .hasMessageContaining("rank_pattern[\"q\"] must be a positive integer");
        assertThatThrownBy(() -> LoraConfig.builder().setTargetModules("q").optAlphaPattern("q", Float.NaN).build())
                .hasMessageContaining("alpha_pattern[\"q\"]");
    }

    @Test
    void scalingIsAlphaOverRankOrOverItsSquareRootWithRslora() {
        LoraConfig plain = LoraConfig.builder().optR(16).optLoraAlpha(32).setTargetModules("q").build();
        assertThat(plain.scalingFor("q")).isEqualTo(2f);
        LoraConfig rs = plain.toBuilder().optUseRslora(true).build();
        assertThat(rs.scalingFor("q")).isEqualTo(8f); // 32 / sqrt(16)
    }

    @Test
    void namesMatchTheEndOfAPathAtASegmentBoundary() {
        LoraConfig c = LoraConfig.builder().setTargetModules("query", "self.value").build();
        assertThat(c.isTargeted("encoder.layer.0.attention.self.query")).isTrue();
        assertThat(c.isTargeted("query")).isTrue();
        assertThat(c.isTargeted("encoder.layer.0.attention.self.value")).isTrue();
        assertThat(c.isTargeted("encoder.layer.0.attention.output.value")).isFalse();
        assertThat(c.isTargeted("encoder.layer.0.attention.self.myquery")).isFalse();
        assertThat(c.isTargeted("encoder.layer.0.attention.self.query.extra")).isFalse();
    }

    @Test
    void aRegexMustMatchTheWholePath() {
        LoraConfig c = LoraConfig.builder().setTargetModulesRegex(".*layer\\.[01]\\..*query").build();
        assertThat(c.isTargeted("encoder.layer.1.attention.self.query")).isTrue();
        assertThat(c.isTargeted("encoder.layer.2.attention.self.query")).isFalse();
        assertThat(c.isTargeted("encoder.layer.1.attention.self.query.x")).isFalse();
    }

    @Test
    void allLinearSparesModulesToSaveAndExcludeWins() {
        LoraConfig c = LoraConfig.builder().setTargetAllLinear().optModulesToSave("classifier")
                .optExcludeModules("output.dense").build();
        assertThat(c.isTargeted("encoder.layer.0.attention.self.query")).isTrue();
        assertThat(c.isTargeted("classifier")).isFalse();
        assertThat(c.isTargeted("classifier.out_proj")).isFalse();
        assertThat(c.isTargeted("encoder.layer.0.output.dense")).isFalse();
        assertThat(c.isTargeted("encoder.layer.0.intermediate.dense")).isTrue();
    }

    @Test
    void patternsGiveModulesTheirOwnRankAndAlpha() {
        LoraConfig c = LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value")
                .optRankPattern("layer\\.0\\.attention\\.self\\.query", 2).optAlphaPattern("value", 4).build();
        assertThat(c.rankFor("encoder.layer.0.attention.self.query")).isEqualTo(2);
        assertThat(c.rankFor("encoder.layer.10.attention.self.query")).isEqualTo(8);
        assertThat(c.alphaFor("encoder.layer.3.attention.self.value")).isEqualTo(4f);
        assertThat(c.scalingFor("encoder.layer.0.attention.self.query")).isEqualTo(8f); // 16 / 2
        assertThat(c.scalingFor("encoder.layer.3.attention.self.value")).isEqualTo(0.5f); // 4 / 8
    }
}
