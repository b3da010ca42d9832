package org.peft4j.djl.models.bert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import org.peft4j.djl.models.EncoderFamilies;

/**
 * The architecture of a BERT-family encoder (BERT, MiniLM, E5, BGE: absolute positions from 0),
 * with the key names of Hugging Face's {@code config.json}.
 *
 * @param vocabSize {@code vocab_size}
 * @param hiddenSize {@code hidden_size}
 * @param numHiddenLayers {@code num_hidden_layers}
 * @param numAttentionHeads {@code num_attention_heads}; must divide the hidden size
 * @param intermediateSize {@code intermediate_size}
 * @param maxPositionEmbeddings {@code max_position_embeddings}: the longest sequence the model takes
 * @param typeVocabSize {@code type_vocab_size}
 * @param layerNormEps {@code layer_norm_eps}
 * @param hiddenDropoutProb {@code hidden_dropout_prob}, applied while training
 * @param attentionProbsDropoutProb {@code attention_probs_dropout_prob}, applied while training
 * @param classifierDropout {@code classifier_dropout}: the dropout before a classification head
 *     while training; null means {@code hidden_dropout_prob}, as in Hugging Face
 */
public record BertConfig(
        int vocabSize,
        int hiddenSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int intermediateSize,
        int maxPositionEmbeddings,
        int typeVocabSize,
        float layerNormEps,
        float hiddenDropoutProb,
        float attentionProbsDropoutProb,
        Float classifierDropout) {

    /** Validates every field. */
    public BertConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("intermediate_size", intermediateSize);
        positive("max_position_embeddings", maxPositionEmbeddings);
        positive("type_vocab_size", typeVocabSize);
        if (hiddenSize % numAttentionHeads != 0) {
            throw new IllegalArgumentException("hidden_size " + hiddenSize + " is not a multiple of num_attention_heads "
                    + numAttentionHeads);
        }
        if (!(layerNormEps > 0) || !Float.isFinite(layerNormEps)) {
            throw new IllegalArgumentException("layer_norm_eps must be a finite positive number, got " + layerNormEps);
        }
        probability("hidden_dropout_prob", hiddenDropoutProb);
        probability("attention_probs_dropout_prob", attentionProbsDropoutProb);
        if (classifierDropout != null) {
            probability("classifier_dropout", classifierDropout);
        }
    }

    /** An architecture without {@code classifier_dropout}: heads use {@code hidden_dropout_prob}. */
    public BertConfig(int vocabSize, int hiddenSize, int numHiddenLayers, int numAttentionHeads, int intermediateSize,
            int maxPositionEmbeddings, int typeVocabSize, float layerNormEps, float hiddenDropoutProb,
            float attentionProbsDropoutProb) {
        this(vocabSize, hiddenSize, numHiddenLayers, numAttentionHeads, intermediateSize, maxPositionEmbeddings,
                typeVocabSize, layerNormEps, hiddenDropoutProb, attentionProbsDropoutProb, null);
    }

    /**
     * The dropout before a classification head: {@code classifier_dropout}, or
     * {@code hidden_dropout_prob} without it ({@code BertForSequenceClassification.__init__}).
     */
    public float headDropout() {
        return classifierDropout != null ? classifierDropout : hiddenDropoutProb;
    }

    private static void positive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be a positive integer, got " + value);
        }
    }

    private static void probability(String key, float value) {
        if (!(value >= 0 && value < 1)) {
            throw new IllegalArgumentException(key + " must be in [0, 1), got " + value);
        }
    }

    /** Returns the width of one attention head. */
    public int headSize() {
        return hiddenSize / numAttentionHeads;
    }

    /**
     * Reads a Hugging Face {@code config.json} file (see {@link #fromJson(JsonNode, String)}).
     */
    public static BertConfig fromJson(Path file) throws IOException {
        JsonNode root = new ObjectMapper().readTree(java.nio.file.Files.readString(file));
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object");
        }
        return fromJson(root, file.toString());
    }

    /**
     * Reads a parsed Hugging Face {@code config.json}. The architecture keys are required; the
     * dropout probabilities default to 0.1 and {@code layer_norm_eps} to 1e-12, as in Hugging Face.
     *
     * @param source where the config comes from, for messages
     * @throws IllegalArgumentException naming the source and the missing or malformed key, or if
     *     the model is not a BERT or does not use absolute positions and exact GELU
     */
    public static BertConfig fromJson(JsonNode root, String source) {
        String type = EncoderFamilies.modelType(root);
        if (!type.equals(BertFamily.MODEL_TYPE)) {
            throw new IllegalArgumentException(source + ": model_type \"" + type + "\" is not a BERT checkpoint;"
                    + " EncoderFamilies.fromHuggingFace loads every supported family");
        }
        String act = root.path("hidden_act").asText("gelu");
        if (!act.equals("gelu")) {
            throw new IllegalArgumentException(source + ": hidden_act \"" + act + "\" is not supported; expected \"gelu\"");
        }
        String positions = root.path("position_embedding_type").asText("absolute");
        if (!positions.equals("absolute")) {
            throw new IllegalArgumentException(
                    source + ": position_embedding_type \"" + positions + "\" is not supported; expected \"absolute\"");
        }
        try {
            return new BertConfig(
                    requiredInt(root, "vocab_size", source),
                    requiredInt(root, "hidden_size", source),
                    requiredInt(root, "num_hidden_layers", source),
                    requiredInt(root, "num_attention_heads", source),
                    requiredInt(root, "intermediate_size", source),
                    requiredInt(root, "max_position_embeddings", source),
                    root.has("type_vocab_size") ? requiredInt(root, "type_vocab_size", source) : 2,
                    (float) root.path("layer_norm_eps").asDouble(1e-12),
                    (float) root.path("hidden_dropout_prob").asDouble(0.1),
                    (float) root.path("attention_probs_dropout_prob").asDouble(0.1),
                    root.path("classifier_dropout").isNumber() ? (float) root.get("classifier_dropout").asDouble() : null);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private static int requiredInt(JsonNode root, String key, String file) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(file + ": missing required key \"" + key + "\"");
        }
        if (!v.canConvertToInt() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException(file + ": key \"" + key + "\": expected an integer, found " + v);
        }
        return v.intValue();
    }
}
