package org.peft4j.api.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.prompt.PromptTuningInit;

class AdapterConfigJsonTest {
    /** The shape of a LoRA config that Hugging Face PEFT 0.13's save_pretrained writes, plus a key from the future. */
    private static final String HF_LORA = "{\n"
            + "  \"alpha_pattern\": {},\n  \"auto_mapping\": null,\n"
            + "  \"base_model_name_or_path\": \"sentence-transformers/all-MiniLM-L6-v2\",\n"
            + "  \"bias\": \"none\",\n  \"fan_in_fan_out\": false,\n  \"inference_mode\": true,\n"
            + "  \"init_lora_weights\": true,\n  \"layer_replication\": null,\n  \"layers_pattern\": null,\n"
            + "  \"layers_to_transform\": null,\n  \"loftq_config\": {},\n  \"lora_alpha\": 16,\n"
            + "  \"lora_dropout\": 0.05,\n  \"megatron_config\": null,\n  \"megatron_core\": \"megatron.core\",\n"
            + "  \"modules_to_save\": [\"classifier\"],\n  \"peft_type\": \"LORA\",\n  \"r\": 8,\n"
            + "  \"rank_pattern\": {\"layer.0.attention.self.query\": 4},\n  \"revision\": null,\n"
            + "  \"target_modules\": [\"value\", \"query\"],\n  \"task_type\": \"SEQ_CLS\",\n"
            + "  \"use_dora\": false,\n  \"use_rslora\": false,\n  \"some_future_option\": 3\n}\n";

    @Test
    void readsAConfigWrittenByHuggingFacePeft() {
        LoraConfig c = (LoraConfig) AdapterConfigJson.parse(HF_LORA, "adapter_config.json");
        assertThat(c.r()).isEqualTo(8);
        assertThat(c.loraAlpha()).isEqualTo(16f);
        assertThat(c.loraDropout()).isEqualTo(0.05f);
        assertThat(c.targetModules().names()).containsExactly("value", "query");
        assertThat(c.modulesToSave()).containsExactly("classifier");
        assertThat(c.rankPattern()).containsEntry("layer.0.attention.self.query", 4);
        assertThat(c.taskType()).isEqualTo(TaskType.SEQ_CLS);
        assertThat(c.baseModelNameOrPath()).isEqualTo("sentence-transformers/all-MiniLM-L6-v2");
        assertThat(c.inferenceMode()).isTrue();
        assertThat(c.bias()).isEqualTo(LoraBias.NONE);
        assertThat(c.useDora()).isFalse();
        LoraConfig dora = (LoraConfig) AdapterConfigJson.parse(HF_LORA.replace("\"use_dora\": false", "\"use_dora\": true"), "f");
        assertThat(dora.useDora()).isTrue();
        assertThat(AdapterConfigJson.toJson(dora)).contains("\"use_dora\" : true");
    }

    @Test
    void everyConfigRoundTrips() {
        PeftConfig[] configs = {
            LoraConfig.builder().optR(4).optLoraAlpha(12.5f).optLoraDropout(0.1f).setTargetModulesRegex(".*\\.(query|value)")
                    .optExcludeModules("layer.0.attention.self.query").optUseRslora(true).optBias(LoraBias.LORA_ONLY)
                    .optInitLoraWeights(LoraInit.GAUSSIAN).optAlphaPattern("value", 3).optModulesToSave("classifier")
                    .optTaskType(TaskType.SEQ_CLS).build(),
            LoraConfig.builder().setTargetAllLinear().optInitLoraWeights(LoraInit.RANDOM).build(),
            LoraConfig.builder().setTargetModules("query", "value").optUseDora(true).build(),
            PromptTuningConfig.builder().setNumVirtualTokens(16).optPromptTuningInitText("classify spam or ham")
                    .optModelDimensions(384, 6, 12).build(),
            PromptTuningConfig.builder().setNumVirtualTokens(4).optPromptTuningInit(PromptTuningInit.SAMPLE_VOCAB).build(),
            PrefixTuningConfig.builder().setNumVirtualTokens(16).optPrefixProjection(true).optEncoderHiddenSize(128)
                    .optModelDimensions(384, 6, 12).optTaskType(TaskType.SEQ_CLS).optInferenceMode(true).build(),
        };
        for (PeftConfig c : configs) {
            assertThat(AdapterConfigJson.parse(AdapterConfigJson.toJson(c), "round trip")).isEqualTo(c);
        }
    }

    @Test
    void aMissingRequiredKeyIsNamed() {
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"r\": 8,", ""), "dir/adapter_config.json"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessage("dir/adapter_config.json: missing required key \"r\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse("{\"r\": 8}", "f"))
                .hasMessage("f: missing required key \"peft_type\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse("{\"peft_type\": \"PROMPT_TUNING\"}", "f"))
                .hasMessage("f: missing required key \"num_virtual_tokens\"");
    }

    @Test
    void fanInFanOutIsReadAndWritten() {
        LoraConfig c = (LoraConfig) AdapterConfigJson.parse(
                HF_LORA.replace("\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true"), "f");
        assertThat(c.fanInFanOut()).isTrue();
        assertThat(((LoraConfig) AdapterConfigJson.parse(HF_LORA, "f")).fanInFanOut()).isFalse();
        assertThat(AdapterConfigJson.toJson(c)).contains("\"fan_in_fan_out\" : true");
    }

    @Test
    void wrongTypesBadValuesAndUnsupportedFeaturesAreErrors() {
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"r\": 8", "\"r\": \"eight\""), "f"))
                .hasMessage("f: key \"r\": expected an integer, found \"eight\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"r\": 8", "\"r\": 0"), "f"))
                .hasMessageContaining("r must be a positive integer, got 0");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"layers_to_transform\": null", "\"layers_to_transform\": [0]"), "f"))
                .hasMessageContaining("key \"layers_to_transform\" is set to [0], a feature this version of peft4j does not support");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"bias\": \"none\"", "\"bias\": \"some\""), "f"))
                .hasMessageContaining("bias must be one of none, all, lora_only; got \"some\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"LORA\"", "\"LOHA\""), "f"))
                .hasMessageContaining("peft_type \"LOHA\" is not supported");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_LORA.replace("\"SEQ_CLS\"", "\"SEQ_CLASSIFY\""), "f"))
                .hasMessageContaining("key \"task_type\": unknown value \"SEQ_CLASSIFY\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse("{\"peft_type\": \"LORA\", ", "f"))
                .hasMessageContaining("f: not valid JSON");
    }

    @Test
    void writesHuggingFaceKeyNames() {
        String json = AdapterConfigJson.toJson(LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build());
        assertThat(json).contains("\"peft_type\" : \"LORA\"", "\"r\" : 8", "\"lora_alpha\" : 16", "\"lora_dropout\" : 0.0",
                "\"target_modules\" : [ \"query\", \"value\" ]", "\"bias\" : \"none\"", "\"init_lora_weights\" : true",
                "\"use_rslora\" : false", "\"fan_in_fan_out\" : false", "\"task_type\" : null");
        assertThat(json).doesNotContain("exclude_modules");
    }
}
