package org.peft4j.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.peft4j.api.checkpoint.AdapterConfigJson;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;

/** The registry finds each method from its one registration line, and an unknown name lists the known ones. */
class PeftMethodsTest {
    @Test
    void everyMethodIsRegisteredOnceWithItsNames() {
        assertThat(PeftMethods.all()).extracting(PeftMethod::peftType)
                .containsExactly(PeftType.LORA, PeftType.PROMPT_TUNING, PeftType.PREFIX_TUNING, PeftType.IA3);
        assertThat(PeftMethods.finetuningTypes()).containsExactly("lora", "prompt", "prefix", "ia3");
        assertThat(PeftMethods.forTypeName("PREFIX_TUNING").configClass()).isEqualTo(PrefixTuningConfig.class);
        assertThat(PeftMethods.forFinetuningType("prompt").isPromptLearning()).isTrue();
        assertThat(PeftMethods.forFinetuningType("lora").isPromptLearning()).isFalse();
        assertThat(PeftMethods.forTypeName("IA3").configClass()).isEqualTo(Ia3Config.class);
        assertThat(PeftMethods.forFinetuningType("ia3").isPromptLearning()).isFalse();
        assertThat(PeftMethods.forFinetuningType("ia3").defaultLearningRate()).isEqualTo(3e-3);
    }

    @Test
    void unknownNamesListTheKnownOnes() {
        assertThatThrownBy(() -> PeftMethods.forTypeName("LOHA"))
                .hasMessage("peft_type \"LOHA\" is not supported; expected one of [LORA, PROMPT_TUNING, PREFIX_TUNING, IA3]");
        assertThatThrownBy(() -> PeftMethods.forFinetuningType("dora"))
                .hasMessage("finetuning_type \"dora\" names no method; known: [lora, prompt, prefix, ia3]");
        assertThatThrownBy(() -> AdapterConfigJson.parse("{\"peft_type\": \"LOHA\"}", "c.json"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessage("c.json: peft_type \"LOHA\" is not supported; expected one of [LORA, PROMPT_TUNING, PREFIX_TUNING, IA3]");
    }

    @Test
    void eachMethodWritesAndReadsItsOwnConfig() {
        List<PeftConfig> configs = List.of(
                LoraConfig.builder().optR(4).optLoraAlpha(8).setTargetModules("query").optUseRslora(true).build(),
                PromptTuningConfig.builder().setNumVirtualTokens(5).optPromptTuningInitText("hi")
                        .optTokenizerNameOrPath("tok").optTaskType(TaskType.SEQ_CLS).build(),
                PrefixTuningConfig.builder().setNumVirtualTokens(3).optPrefixProjection(true).optEncoderHiddenSize(12)
                        .optModulesToSave("classifier").build(),
                Ia3Config.builder().setDefaultTargetModules("bert").optTaskType(TaskType.SEQ_CLS).build());
        for (PeftConfig config : configs) {
            assertThat(AdapterConfigJson.parse(AdapterConfigJson.toJson(config), "round trip")).isEqualTo(config);
        }
    }
}
