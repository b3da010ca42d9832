package org.peft4j.api;

import java.util.Map;

/** The model dimensions (hidden size, layers, heads) that prompt- and prefix-tuning configs record: checked, and written as PEFT writes them. */
public final class ModelDimensions {
    private ModelDimensions() {}

    /**
     * Checks that each dimension is null (not yet known) or positive.
     *
     * @throws IllegalArgumentException naming the first bad field
     */
    public static void check(Integer tokenDim, Integer numLayers, Integer numAttentionHeads) {
        checkOne("token_dim", tokenDim);
        checkOne("num_layers", numLayers);
        checkOne("num_attention_heads", numAttentionHeads);
    }

    /**
     * Writes the dimensions under Hugging Face PEFT's keys ({@code token_dim}, {@code num_layers},
     * {@code num_attention_heads}), with {@code num_transformer_submodules: 1} (an encoder).
     */
    public static void toJson(Integer tokenDim, Integer numLayers, Integer numAttentionHeads, Map<String, Object> out) {
        out.put("token_dim", tokenDim);
        out.put("num_layers", numLayers);
        out.put("num_attention_heads", numAttentionHeads);
        out.put("num_transformer_submodules", 1);
    }

    private static void checkOne(String field, Integer value) {
        if (value != null && value <= 0) {
            throw new IllegalArgumentException(field + " must be a positive integer, got " + value);
        }
    }
}
