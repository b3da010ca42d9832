package org.peft4j.djl.models.roberta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.peft4j.djl.models.ConfigKeys;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.bert.BertConfig;

/**
 * The architecture of a RoBERTa-family encoder (RoBERTa, XLM-RoBERTa, CamemBERT): BERT's layers
 * ({@link #layers()}) with positions that start after the padding id.
 *
 * @param modelType {@code model_type}: {@code roberta}, {@code xlm-roberta} or {@code camembert}
 * @param layers the keys BERT shares ({@code max_position_embeddings} counts the
 *     {@code pad_token_id + 1} offset, as in transformers; {@code type_vocab_size} is usually 1)
 * @param padTokenId {@code pad_token_id}: the padding id, and the position before the first
 */
public record RobertaConfig(String modelType, BertConfig layers, int padTokenId) {
    /** Checks that the position table has room for at least one real token after the offset. */
    public RobertaConfig {
        if (padTokenId < 0) {
            throw new IllegalArgumentException("pad_token_id must be at least 0, got " + padTokenId);
        }
        if (layers.maxPositionEmbeddings() <= padTokenId + 1) {
            throw new IllegalArgumentException("max_position_embeddings " + layers.maxPositionEmbeddings()
                    + " leaves no position for a token: RoBERTa's positions start at pad_token_id + 1 = "
                    + (padTokenId + 1));
        }
    }

    /** Returns the longest sequence of real tokens the position table holds: {@code max_position_embeddings - pad_token_id - 1}. */
    public int maxTokens() {
        return layers.maxPositionEmbeddings() - padTokenId - 1;
    }

    /**
     * Reads a parsed Hugging Face {@code config.json}: the architecture keys are required, the
     * dropouts default to 0.1, {@code layer_norm_eps} to 1e-12, {@code type_vocab_size} to 1 and
     * {@code pad_token_id} to 1 (transformers' {@code RobertaConfig} defaults).
     *
     * @param source where the config comes from, for messages
     * @throws IllegalArgumentException naming the source and the key that is missing or wrong
     */
    public static RobertaConfig fromJson(JsonNode root, String source) {
        String type = EncoderFamilies.modelType(root);
        if (!RobertaFamily.MODEL_TYPES.contains(type)) {
            throw new IllegalArgumentException(source + ": model_type \"" + type + "\" is not a RoBERTa checkpoint;"
                    + " expected one of " + RobertaFamily.MODEL_TYPES);
        }
        for (String[] fixed : new String[][] {{"hidden_act", "gelu"}, {"position_embedding_type", "absolute"}}) {
            String value = root.path(fixed[0]).asText(fixed[1]);
            if (!value.equals(fixed[1])) {
                throw new IllegalArgumentException(source + ": " + fixed[0] + " \"" + value
                        + "\" is not supported; expected \"" + fixed[1] + "\"");
            }
        }
        JsonNode pad = root.path("pad_token_id");
        if (!pad.isMissingNode() && !pad.isNull() && !pad.canConvertToInt()) {
            throw new IllegalArgumentException(source + ": key \"pad_token_id\": expected an integer, found " + pad);
        }
        try {
            BertConfig layers = new BertConfig(ConfigKeys.positiveInt(root, "vocab_size", source),
                    ConfigKeys.positiveInt(root, "hidden_size", source),
                    ConfigKeys.positiveInt(root, "num_hidden_layers", source),
                    ConfigKeys.positiveInt(root, "num_attention_heads", source),
                    ConfigKeys.positiveInt(root, "intermediate_size", source),
                    ConfigKeys.positiveInt(root, "max_position_embeddings", source),
                    ConfigKeys.positiveInt(root, "type_vocab_size", 1, source),
                    (float) ConfigKeys.number(root, "layer_norm_eps", 1e-12, source),
                    (float) ConfigKeys.number(root, "hidden_dropout_prob", 0.1, source),
                    (float) ConfigKeys.number(root, "attention_probs_dropout_prob", 0.1, source),
                    root.path("classifier_dropout").isNumber() ? (float) root.get("classifier_dropout").asDouble() : null);
            return new RobertaConfig(type, layers, pad.isIntegralNumber() ? pad.intValue() : 1);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** Returns the {@code config.json} keys this config is read from, {@code model_type} included. */
    public ObjectNode toJson(ObjectNode into) {
        BertConfig b = layers;
        into.put("model_type", modelType);
        into.put("vocab_size", b.vocabSize());
        into.put("hidden_size", b.hiddenSize());
        into.put("num_hidden_layers", b.numHiddenLayers());
        into.put("num_attention_heads", b.numAttentionHeads());
        into.put("intermediate_size", b.intermediateSize());
        into.put("max_position_embeddings", b.maxPositionEmbeddings());
        into.put("type_vocab_size", b.typeVocabSize());
        into.put("layer_norm_eps", b.layerNormEps());
        into.put("hidden_dropout_prob", b.hiddenDropoutProb());
        into.put("attention_probs_dropout_prob", b.attentionProbsDropoutProb());
        if (b.classifierDropout() != null) {
            into.put("classifier_dropout", b.classifierDropout());
        }
        into.put("hidden_act", "gelu");
        into.put("position_embedding_type", "absolute");
        into.put("pad_token_id", padTokenId);
        into.put("initializer_range", 0.02);
        return into;
    }
}
