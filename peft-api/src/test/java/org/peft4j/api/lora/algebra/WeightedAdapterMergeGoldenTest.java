package org.peft4j.api.lora.algebra;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;

/**
 * Every deterministic combination against Hugging Face PEFT's own {@code add_weighted_adapter} on
 * random adapters: the file src/test/resources/algebra/merge_golden.json is written by
 * src/test/python/make_merge_golden.py and holds the adapters and, per combination, PEFT's ΔW of each
 * module (for the svd types only ΔW is comparable; DARE runs at density 1, where it keeps everything).
 */
class WeightedAdapterMergeGoldenTest {

    @Test
    void everyCombinationMatchesPeft() throws IOException {
        JsonNode golden;
        try (InputStream in = getClass().getResourceAsStream("/algebra/merge_golden.json")) {
            golden = new ObjectMapper().readTree(in);
        }
        Map<String, AdapterCheckpoint> adapters = new LinkedHashMap<>();
        golden.get("adapters").fields().forEachRemaining(e -> adapters.put(e.getKey(), adapter(e.getValue())));
        int compared = 0;
        for (JsonNode c : golden.get("cases")) {
            WeightedAdapterMerge.Builder b = WeightedAdapterMerge.builder()
                    .setCombinationType(CombinationType.fromPeftName(c.get("combination_type").asText()));
            for (int i = 0; i < c.get("adapters").size(); i++) {
                String name = c.get("adapters").get(i).asText();
                b.addAdapter(name, adapters.get(name), c.get("weights").get(i).asDouble());
            }
            JsonNode kwargs = c.get("kwargs");
            if (kwargs.has("density")) {
                b.optDensity(kwargs.get("density").asDouble());
            }
            if (kwargs.has("svd_rank")) {
                b.optSvdRank(kwargs.get("svd_rank").asInt());
            }
            if (kwargs.has("majority_sign_method")) {
                b.optMajoritySignMethod(MajoritySignMethod.fromPeftName(kwargs.get("majority_sign_method").asText()));
            }
            AdapterCheckpoint merged = b.build().merge();
            LoraConfig config = (LoraConfig) merged.config();
            assertThat(config.r()).as(c.get("name").asText()).isEqualTo(c.get("r").asInt());
            assertThat(config.loraAlpha()).isEqualTo((float) c.get("lora_alpha").asDouble());
            for (Iterator<Map.Entry<String, JsonNode>> it = c.get("delta").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                double[][] expected = matrix(e.getValue());
                assertThat(Lora.frobenius(Lora.delta(merged, e.getKey()), expected))
                        .as(c.get("name").asText() + " on " + e.getKey()).isLessThan(1e-5);
                compared++;
            }
        }
        assertThat(compared).isEqualTo(2 * golden.get("cases").size());
    }

    private static AdapterCheckpoint adapter(JsonNode node) {
        JsonNode cfg = node.get("config");
        List<String> targets = new ArrayList<>();
        cfg.get("target_modules").forEach(t -> targets.add(t.asText()));
        Lora lora = Lora.of(LoraConfig.builder().optR(cfg.get("r").asInt()).optLoraAlpha((float) cfg.get("lora_alpha").asDouble())
                .setTargetModules(targets.toArray(new String[0])).build());
        node.get("modules").fields().forEachRemaining(e ->
                lora.module(e.getKey(), matrix(e.getValue().get("A")), matrix(e.getValue().get("B"))));
        return lora.build();
    }

    private static double[][] matrix(JsonNode rows) {
        double[][] out = new double[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = new double[rows.get(i).size()];
            for (int j = 0; j < out[i].length; j++) {
                out[i][j] = rows.get(i).get(j).asDouble();
            }
        }
        return out;
    }
}
