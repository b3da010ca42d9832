package org.peft4j.djl.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.peft4j.djl.models.ConfigKeys;

/**
 * The architecture of a LLaMA-style decoder ({@code model_type} {@code llama}, {@code mistral} or
 * {@code qwen2}: pre-RMSNorm layers, rotary positions, grouped-query attention, a SiLU-gated MLP),
 * with the key names of Hugging Face's {@code config.json}.
 *
 * @param modelType {@code model_type}
 * @param vocabSize {@code vocab_size}
 * @param hiddenSize {@code hidden_size}
 * @param intermediateSize {@code intermediate_size}, the MLP's width
 * @param numHiddenLayers {@code num_hidden_layers}
 * @param numAttentionHeads {@code num_attention_heads}
 * @param numKeyValueHeads {@code num_key_value_heads} (grouped-query attention); divides the head count
 * @param headDim {@code head_dim}, or hidden size / heads when the config has none
 * @param rmsNormEps {@code rms_norm_eps}
 * @param ropeTheta the rotary base ({@code rope_parameters.rope_theta}, or {@code rope_theta})
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param tieWordEmbeddings {@code tie_word_embeddings}: the output projection is the embedding table
 * @param attentionBias whether {@code q_proj}, {@code k_proj} and {@code v_proj} have biases
 *     (LLaMA's {@code attention_bias}; always for Qwen2)
 * @param outputBias whether {@code o_proj} has a bias (LLaMA's {@code attention_bias}; never for Qwen2)
 * @param mlpBias {@code mlp_bias}
 * @param attentionDropout {@code attention_dropout}, applied while training
 * @param slidingWindow Mistral's {@code sliding_window}, or null: a sequence longer than it is refused,
 *     as this model attends to every earlier position
 */
public record LlamaConfig(String modelType, int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers,
        int numAttentionHeads, int numKeyValueHeads, int headDim, float rmsNormEps, double ropeTheta,
        int maxPositionEmbeddings, boolean tieWordEmbeddings, boolean attentionBias, boolean outputBias,
        boolean mlpBias, float attentionDropout, Integer slidingWindow) {
    /** The {@code model_type} values this architecture reads. */
    public static final List<String> MODEL_TYPES = List.of("llama", "mistral", "qwen2");

    /** Checks the sizes. */
    public LlamaConfig {
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numAttentionHeads
                    + " is not a multiple of num_key_value_heads " + numKeyValueHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim " + headDim + " must be even for rotary positions");
        }
        if (!(rmsNormEps > 0)) {
            throw new IllegalArgumentException("rms_norm_eps must be positive, got " + rmsNormEps);
        }
        if (!(attentionDropout >= 0 && attentionDropout < 1)) {
            throw new IllegalArgumentException("attention_dropout must be in [0, 1), got " + attentionDropout);
        }
    }

    /**
     * Reads a parsed {@code config.json}, with transformers' defaults for what it leaves out.
     *
     * @param source where the config comes from, for messages
     * @throws IllegalArgumentException naming the key that is missing, malformed or names a
     *     feature not implemented ({@code rope_scaling} other than the default, another
     *     {@code hidden_act}, Qwen2's sliding window)
     */
    public static LlamaConfig fromJson(JsonNode config, String source) {
        String type = config.path("model_type").asText("");
        if (!MODEL_TYPES.contains(type)) {
            throw new IllegalArgumentException(source + ": model_type \"" + type + "\" is not one of " + MODEL_TYPES);
        }
        String act = config.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException(source + ": hidden_act \"" + act + "\" is not supported; expected \"silu\"");
        }
        String rope = ropeType(config);
        if (!rope.equals("default")) {
            throw new IllegalArgumentException(source + ": rotary scaling \"" + rope + "\" is not implemented;"
                    + " only the default rotary embedding (no rope_scaling) is");
        }
        if (type.equals("qwen2") && ConfigKeys.bool(config, "use_sliding_window", false, source)) {
            throw new IllegalArgumentException(source + ": use_sliding_window true is not implemented");
        }
        int hidden = ConfigKeys.positiveInt(config, "hidden_size", source);
        int heads = ConfigKeys.positiveInt(config, "num_attention_heads", source);
        boolean llamaBias = ConfigKeys.bool(config, "attention_bias", false, source);
        boolean qwen = type.equals("qwen2");
        JsonNode window = config.get("sliding_window");
        try {
            return new LlamaConfig(type,
                    ConfigKeys.positiveInt(config, "vocab_size", source),
                    hidden,
                    ConfigKeys.positiveInt(config, "intermediate_size", source),
                    ConfigKeys.positiveInt(config, "num_hidden_layers", source),
                    heads,
                    ConfigKeys.positiveInt(config, "num_key_value_heads", heads, source),
                    ConfigKeys.positiveInt(config, "head_dim", hidden / heads, source),
                    (float) ConfigKeys.number(config, "rms_norm_eps", 1e-6, source),
                    ropeTheta(config, source),
                    ConfigKeys.positiveInt(config, "max_position_embeddings", 2048, source),
                    ConfigKeys.bool(config, "tie_word_embeddings", false, source),
                    qwen || llamaBias,
                    !qwen && llamaBias,
                    ConfigKeys.bool(config, "mlp_bias", false, source),
                    (float) ConfigKeys.number(config, "attention_dropout", 0, source),
                    type.equals("mistral") && window != null && !window.isNull()
                            ? ConfigKeys.positiveInt(config, "sliding_window", source) : null);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** The rotary type: transformers 5's {@code rope_parameters.rope_type}, or 4's {@code rope_scaling}. */
    private static String ropeType(JsonNode config) {
        JsonNode parameters = config.path("rope_parameters");
        if (parameters.isObject()) {
            return parameters.path("rope_type").asText("default");
        }
        JsonNode scaling = config.path("rope_scaling");
        if (scaling.isObject()) {
            return scaling.path("rope_type").asText(scaling.path("type").asText("default"));
        }
        return "default";
    }

    private static double ropeTheta(JsonNode config, String source) {
        JsonNode parameters = config.path("rope_parameters");
        return parameters.isObject() ? ConfigKeys.number(parameters, "rope_theta", 10000, source)
                : ConfigKeys.number(config, "rope_theta", 10000, source);
    }

    /** Returns how many query heads share one key/value head. */
    public int queriesPerKeyValue() {
        return numAttentionHeads / numKeyValueHeads;
    }
}
