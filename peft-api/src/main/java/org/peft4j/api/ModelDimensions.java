package org.peft4j.api;

/** Checks the model dimensions (hidden size, layers, heads) that prompt- and prefix-tuning configs record. */
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

    private static void checkOne(String field, Integer value) {
        if (value != null && value <= 0) {
            throw new IllegalArgumentException(field + " must be a positive integer, got " + value);
        }
    }
}
