package org.peft4j.api.ia3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterConfigJson;

/** (IA)³'s config: PEFT's keys and defaults, the feed-forward rules, and errors that name the key. */
class Ia3ConfigTest {
    /** An adapter_config.json as PEFT 0.21 writes it for IA3Config(task_type=SEQ_CLS) on a BERT model. */
    static final String HF_IA3 = """
            {
              "auto_mapping": null,
              "base_model_name_or_path": "tiny-bert",
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "feedforward_modules": ["output.dense"],
              "inference_mode": true,
              "init_ia3_weights": true,
              "modules_to_save": ["classifier", "score"],
              "peft_type": "IA3",
              "peft_version": "0.21.0",
              "revision": null,
              "target_modules": ["value", "output.dense", "key"],
              "task_type": "SEQ_CLS"
            }
            """;

    @Test
    void readsPeftsFileAndWritesItBackWithTheSameKeys() throws Exception {
        Ia3Config c = (Ia3Config) AdapterConfigJson.parse(HF_IA3, "adapter_config.json");
        assertThat(c.targetModules().names()).containsExactly("value", "output.dense", "key");
        assertThat(c.feedforwardModules().names()).containsExactly("output.dense");
        assertThat(c.excludeModules()).isNull();
        assertThat(c.initIa3Weights()).isTrue();
        assertThat(c.fanInFanOut()).isFalse();
        assertThat(c.modulesToSave()).containsExactly("classifier", "score");
        assertThat(c.taskType()).isEqualTo(TaskType.SEQ_CLS);
        assertThat(c.baseModelNameOrPath()).isEqualTo("tiny-bert");
        assertThat(c.inferenceMode()).isTrue();

        String written = AdapterConfigJson.toJson(c);
        assertThat(AdapterConfigJson.parse(written, "round trip")).isEqualTo(c);
        JsonNode ours = new ObjectMapper().readTree(written);
        JsonNode theirs = new ObjectMapper().readTree(HF_IA3);
        for (String key : new String[] {"peft_type", "task_type", "target_modules", "feedforward_modules",
                "fan_in_fan_out", "init_ia3_weights", "exclude_modules", "modules_to_save", "inference_mode",
                "base_model_name_or_path"}) {
            assertThat(ours.get(key)).as(key).isEqualTo(theirs.get(key));
        }
    }

    @Test
    void noFeedforwardModulesIsWrittenAsAnEmptyListNotNull() throws Exception {
        // PEFT fills a null feedforward_modules in with its defaults for the model type, which would change the shapes
        Ia3Config c = Ia3Config.builder().setTargetModules("key", "value").build();
        JsonNode written = new ObjectMapper().readTree(AdapterConfigJson.toJson(c));
        assertThat(written.get("feedforward_modules").isArray()).isTrue();
        assertThat(written.get("feedforward_modules")).isEmpty();
        assertThat(AdapterConfigJson.parse(written.toString(), "f")).isEqualTo(c);
        assertThat(((Ia3Config) AdapterConfigJson.parse(HF_IA3.replace("[\"output.dense\"],", "null,"), "f"))
                .feedforwardModules()).isNull();
    }

    @Test
    void peftsBertDefaultsAreKeyValueAndOutputDenseWithOutputDenseFeedforward() {
        Ia3Config c = Ia3Config.builder().setDefaultTargetModules("bert").build();
        assertThat(c.targetModules().names()).containsExactly("key", "value", "output.dense");
        assertThat(c.feedforwardModules().names()).containsExactly("output.dense");
        String layer = "bert.encoder.layer.0.";
        assertThat(c.isTargeted(layer + "attention.self.key")).isTrue();
        assertThat(c.isTargeted(layer + "attention.self.query")).isFalse();
        assertThat(c.isTargeted(layer + "intermediate.dense")).isFalse();
        assertThat(c.isFeedforward(layer + "output.dense")).isTrue();
        // PEFT's feed-forward test is a plain suffix: the attention's output projection counts too
        assertThat(c.isFeedforward(layer + "attention.output.dense")).isTrue();
        assertThat(c.isFeedforward(layer + "attention.self.value")).isFalse();
        assertThat(c.withModulesToSave(java.util.List.of("classifier")).isTargeted("classifier")).isFalse();
        assertThatThrownBy(() -> Ia3Config.builder().setDefaultTargetModules("t9"))
                .hasMessageContaining("no default IA3 target_modules for model_type \"t9\"; known: [bert, gpt2,");
    }

    @Test
    void aRegularExpressionMustMatchTheWholePath() {
        Ia3Config c = Ia3Config.builder().setTargetModulesRegex(".*\\.(key|dense)")
                .optFeedforwardModules(TargetModules.regex(".*\\.layer\\.\\d+\\.output\\.dense", "feedforward_modules"))
                .build();
        assertThat(c.isFeedforward("bert.encoder.layer.1.output.dense")).isTrue();
        assertThat(c.isFeedforward("bert.encoder.layer.1.attention.output.dense")).isFalse();
        assertThat(c.isFeedforward("bert.encoder.layer.1.output.dense.x")).isFalse();
    }

    @Test
    void badValuesFailNamingTheKey() {
        assertThatThrownBy(() -> Ia3Config.builder().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target_modules must be set").hasMessageContaining("[bert, gpt2, llama");
        assertThatThrownBy(() -> Ia3Config.builder().setTargetModules("key", "value").optFeedforwardModules("output.dense").build())
                .hasMessage("feedforward_modules must be a subset of target_modules, as PEFT's IA3Config requires:"
                        + " [output.dense] not in target_modules [key, value]");
        assertThatThrownBy(() -> Ia3Config.builder().setTargetModules("key").optFeedforwardModules(TargetModules.allLinear()).build())
                .hasMessageContaining("feedforward_modules cannot be \"all-linear\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_IA3.replace("[\"output.dense\"],", "[\"intermediate.dense\"],"), "c.json"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("c.json: feedforward_modules must be a subset of target_modules")
                .hasMessageContaining("[intermediate.dense] not in target_modules");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_IA3.replace("\"init_ia3_weights\": true", "\"init_ia3_weights\": \"yes\""), "c.json"))
                .hasMessage("c.json: key \"init_ia3_weights\": expected true or false, found \"yes\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_IA3.replace("\"SEQ_CLS\"", "\"SEQ_CLASSIFY\""), "c.json"))
                .hasMessageContaining("key \"task_type\": unknown value \"SEQ_CLASSIFY\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_IA3.replace("\"target_modules\": [\"value\", \"output.dense\", \"key\"],", ""), "c.json"))
                .hasMessage("c.json: missing required key \"target_modules\"");
        assertThatThrownBy(() -> AdapterConfigJson.parse(HF_IA3.replace("\"revision\": null", "\"layers_to_transform\": [0]"), "c.json"))
                .hasMessageContaining("key \"layers_to_transform\" is set to [0], a feature this version of peft4j does not support");
        // an unknown key is ignored with a warning, as for every method (newer PEFT versions add keys)
        assertThat(AdapterConfigJson.parse(HF_IA3.replace("\"revision\": null", "\"future_key\": 1"), "c.json"))
                .isEqualTo(AdapterConfigJson.parse(HF_IA3, "c.json"));
    }
}
