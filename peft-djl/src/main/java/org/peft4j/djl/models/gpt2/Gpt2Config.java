package org.peft4j.djl.models.gpt2;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.peft4j.djl.models.ConfigKeys;

/**
 * The architecture of a GPT-2 decoder ({@code model_type} {@code gpt2}: learned position
 * embeddings, pre-LayerNorm blocks, fused q/k/v projection, a {@code gelu_new} MLP), with the key
 * names and defaults of transformers' {@code GPT2Config} ({@code configuration_gpt2.py}).
 *
 * @param vocabSize {@code vocab_size}
 * @param nEmbd {@code n_embd}, the hidden size
 * @param nLayer {@code n_layer}, the number of blocks
 * @param nHead {@code n_head}; divides {@code n_embd}
 * @param nInner {@code n_inner}, the MLP's width (4·n_embd when the config has null)
 * @param nPositions {@code n_positions}, the rows of the position table {@code wpe}
 * @param layerNormEpsilon {@code layer_norm_epsilon}
 * @param tieWordEmbeddings {@code tie_word_embeddings}: the output projection is {@code wte}
 * @param scaleAttnWeights {@code scale_attn_weights}: scores divided by sqrt(head size)
 * @param scaleAttnByInverseLayerIdx {@code scale_attn_by_inverse_layer_idx}: scores of block l
 *     further divided by l + 1
 * @param embdPdrop {@code embd_pdrop}, dropout on the embeddings while training
 * @param attnPdrop {@code attn_pdrop}, dropout on the attention probabilities while training
 * @param residPdrop {@code resid_pdrop}, dropout on each block's two residual branches while training
 */
public record Gpt2Config(int vocabSize, int nEmbd, int nLayer, int nHead, int nInner, int nPositions,
        float layerNormEpsilon, boolean tieWordEmbeddings, boolean scaleAttnWeights, boolean scaleAttnByInverseLayerIdx,
        float embdPdrop, float attnPdrop, float residPdrop) {
    /** The {@code model_type} this architecture reads. */
    public static final String MODEL_TYPE = "gpt2";
    /** The one {@code activation_function} implemented: the tanh approximation of GELU. */
    public static final String ACTIVATION = "gelu_new";

    /** Checks the sizes and rates. */
    public Gpt2Config {
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("n_embd " + nEmbd + " is not a multiple of n_head " + nHead);
        }
        if (!(layerNormEpsilon > 0)) {
            throw new IllegalArgumentException("layer_norm_epsilon must be positive, got " + layerNormEpsilon);
        }
        checkRate("embd_pdrop", embdPdrop);
        checkRate("attn_pdrop", attnPdrop);
        checkRate("resid_pdrop", residPdrop);
    }

    private static void checkRate(String key, float rate) {
        if (!(rate >= 0 && rate < 1)) {
            throw new IllegalArgumentException(key + " must be in [0, 1), got " + rate);
        }
    }

    /**
     * Reads a parsed {@code config.json}, with {@code GPT2Config}'s defaults for what it leaves out.
     * {@code reorder_and_upcast_attn} is accepted either way: it asks for the attention scores in
     * float32, and this model computes in float32 throughout.
     *
     * @param source where the config comes from, for messages
     * @throws IllegalArgumentException naming the key that is missing, malformed or names a
     *     feature not implemented (another {@code activation_function}, {@code add_cross_attention})
     */
    public static Gpt2Config fromJson(JsonNode config, String source) {
        String type = config.path("model_type").asText("");
        if (!type.equals(MODEL_TYPE)) {
            throw new IllegalArgumentException(source + ": model_type \"" + type + "\" is not " + MODEL_TYPE);
        }
        String act = config.path("activation_function").asText(ACTIVATION);
        if (!act.equals(ACTIVATION)) {
            throw new IllegalArgumentException(source + ": activation_function \"" + act + "\" is not supported;"
                    + " expected \"" + ACTIVATION + "\"");
        }
        if (ConfigKeys.bool(config, "add_cross_attention", false, source)) {
            throw new IllegalArgumentException(source + ": add_cross_attention true is not implemented"
                    + " (a causal language model attends to its own tokens only)");
        }
        ConfigKeys.bool(config, "reorder_and_upcast_attn", false, source);
        int embd = ConfigKeys.positiveInt(config, "n_embd", 768, source);
        try {
            return new Gpt2Config(
                    ConfigKeys.positiveInt(config, "vocab_size", 50257, source),
                    embd,
                    ConfigKeys.positiveInt(config, "n_layer", 12, source),
                    ConfigKeys.positiveInt(config, "n_head", 12, source),
                    ConfigKeys.positiveInt(config, "n_inner", 4 * embd, source),
                    ConfigKeys.positiveInt(config, "n_positions", 1024, source),
                    (float) ConfigKeys.number(config, "layer_norm_epsilon", 1e-5, source),
                    ConfigKeys.bool(config, "tie_word_embeddings", true, source),
                    ConfigKeys.bool(config, "scale_attn_weights", true, source),
                    ConfigKeys.bool(config, "scale_attn_by_inverse_layer_idx", false, source),
                    (float) ConfigKeys.number(config, "embd_pdrop", 0.1, source),
                    (float) ConfigKeys.number(config, "attn_pdrop", 0.1, source),
                    (float) ConfigKeys.number(config, "resid_pdrop", 0.1, source));
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** Returns the width of one attention head, n_embd / n_head. */
    public int headDim() {
        return nEmbd / nHead;
    }

    /** The {@code model_type} values this architecture reads, for the family registry. */
    static List<String> modelTypes() {
        return List.of(MODEL_TYPE);
    }
}
