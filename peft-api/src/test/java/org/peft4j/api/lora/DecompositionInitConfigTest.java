package org.peft4j.api.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.peft4j.api.checkpoint.AdapterConfigJson;

/** init_lora_weights "pissa", "pissa_niter_N" and "olora" read and written with PEFT's spellings. */
class DecompositionInitConfigTest {
    private static LoraConfig parse(String init) {
        return (LoraConfig) AdapterConfigJson.parse("{\"peft_type\": \"LORA\", \"r\": 4, \"lora_alpha\": 8, "
                + "\"target_modules\": [\"q\"], \"init_lora_weights\": " + init + "}", "adapter_config.json");
    }

    @Test
    void peftSpellingsRoundTrip() {
        assertThat(parse("\"pissa\"").initLoraWeights()).isEqualTo(LoraInit.PISSA);
        assertThat(parse("\"olora\"").initLoraWeights()).isEqualTo(LoraInit.OLORA);
        LoraConfig niter = parse("\"pissa_niter_16\"");
        assertThat(niter.initLoraWeights()).isEqualTo(LoraInit.PISSA_NITER);
        assertThat(niter.pissaNiter()).isEqualTo(16);
        for (String init : new String[] {"\"pissa\"", "\"olora\"", "\"pissa_niter_16\""}) {
            String json = AdapterConfigJson.toJson(parse(init));
            assertThat(json).contains("\"init_lora_weights\" : " + init);
            assertThat(parse(init)).isEqualTo(AdapterConfigJson.parse(json, "written"));
        }
        assertThat(LoraConfig.builder().setTargetModules("q").optPissaNiter(4).optInitLoraWeights(LoraInit.OLORA).build()
                .pissaNiter()).isZero();
        assertThatThrownBy(() -> parse("\"pissa_niter_x\"")).hasMessageContaining("\"pissa_niter_N\"");
        assertThatThrownBy(() -> LoraConfig.builder().setTargetModules("q").optPissaNiter(-1).build())
                .hasMessageContaining("pissa_niter_N\" must be >= 0");
    }
}
