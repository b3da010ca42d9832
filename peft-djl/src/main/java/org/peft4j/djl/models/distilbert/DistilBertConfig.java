package org.peft4j.djl.models.distilbert;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.djl.models.ConfigKeys;
import org.peft4j.djl.models.EncoderFamilies;

/**
 * The architecture of a DistilBERT encoder, with the key names of its {@code config.json}
 * (transformers' {@code DistilBertConfig}). LayerNorm's epsilon is fixed at 1e-12 there.
 *
 * @param vocabSize {@code vocab_size}
 * @param dim {@code dim}, the hidden size
 * @param nLayers {@code n_layers}
 * @param nHeads {@code n_heads}; must divide {@code dim}
 * @param hiddenDim {@code hidden_dim}, the feed-forward width
 * @param maxPositionEmbeddings {@code max_position_embeddings}
 * @param activation {@code activation}: {@code gelu} (exact) or {@code relu}
 * @param dropout {@code dropout}, applied while training
 * @param attentionDropout {@code attention_dropout}, applied while training
 * @param seqClassifDropout {@code seq_classif_dropout}: the classification head's dropout
 * @param sinusoidalPosEmbds {@code sinusoidal_pos_embds}: in transformers 5.18 it only sets how a
 *     new model's position table starts ({@code modeling_distilbert.py} line 305, in
 *     {@code _init_weights}); the forward pass reads the table the checkpoint holds, so it changes
 *     nothing here and is kept to be written back
 */
public record DistilBertConfig(int vocabSize, int dim, int nLayers, int nHeads, int hiddenDim, int maxPositionEmbeddings,
        String activation, float dropout, float attentionDropout, float seqClassifDropout, boolean sinusoidalPosEmbds) {
    /** The activations the feed-forward layer may use. */
    public static final List<String> ACTIVATIONS = List.of("gelu", "relu");
    /** LayerNorm's epsilon in every DistilBERT norm ({@code nn.LayerNorm(config.dim, eps=1e-12)}). */
    public static final float LAYER_NORM_EPS = 1e-12f;

    /** Validates every field. */
    public DistilBertConfig {
        positive("vocab_size", vocabSize);
        positive("dim", dim);
        positive("n_layers", nLayers);
        positive("n_heads", nHeads);
        positive("hidden_dim", hiddenDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (dim % nHeads != 0) {
            throw new IllegalArgumentException("dim " + dim + " is not a multiple of n_heads " + nHeads);
        }
        if (!ACTIVATIONS.contains(activation)) {
            throw new IllegalArgumentException("activation \"" + activation + "\" is not supported; expected one of "
                    + ACTIVATIONS);
        }
        probability("dropout", dropout);
        probability("attention_dropout", attentionDropout);
        probability("seq_classif_dropout", seqClassifDropout);
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
        return dim / nHeads;
    }

    /**
     * Reads a parsed Hugging Face {@code config.json}: the architecture keys are required, the rest
     * default as in transformers ({@code dropout} and {@code attention_dropout} 0.1,
     * {@code seq_classif_dropout} 0.2, {@code activation} gelu).
     *
     * @param source where the config comes from, for messages
     * @throws IllegalArgumentException naming the source and the key that is missing or wrong
     */
    public static DistilBertConfig fromJson(JsonNode root, String source) {
        String type = EncoderFamilies.modelType(root);
        if (!type.equals(DistilBertFamily.MODEL_TYPE)) {
            throw new IllegalArgumentException(source + ": model_type \"" + type + "\" is not a DistilBERT checkpoint");
        }
        try {
            return new DistilBertConfig(ConfigKeys.positiveInt(root, "vocab_size", source),
                    ConfigKeys.positiveInt(root, "dim", source), ConfigKeys.positiveInt(root, "n_layers", source),
                    ConfigKeys.positiveInt(root, "n_heads", source), ConfigKeys.positiveInt(root, "hidden_dim", source),
                    ConfigKeys.positiveInt(root, "max_position_embeddings", source),
                    root.path("activation").asText("gelu"), (float) ConfigKeys.number(root, "dropout", 0.1, source),
                    (float) ConfigKeys.number(root, "attention_dropout", 0.1, source),
                    (float) ConfigKeys.number(root, "seq_classif_dropout", 0.2, source),
                    ConfigKeys.bool(root, "sinusoidal_pos_embds", false, source));
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith(source) ? e : new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** Writes the {@code config.json} keys this config is read from, {@code model_type} included, into {@code into}. */
    public ObjectNode toJson(ObjectNode into) {
        into.put("model_type", DistilBertFamily.MODEL_TYPE);
        into.put("vocab_size", vocabSize);
        into.put("dim", dim);
        into.put("n_layers", nLayers);
        into.put("n_heads", nHeads);
        into.put("hidden_dim", hiddenDim);
        into.put("max_position_embeddings", maxPositionEmbeddings);
        into.put("activation", activation);
        into.put("dropout", dropout);
        into.put("attention_dropout", attentionDropout);
        into.put("seq_classif_dropout", seqClassifDropout);
        into.put("sinusoidal_pos_embds", sinusoidalPosEmbds);
        into.put("pad_token_id", 0);
        into.put("initializer_range", 0.02);
        return into;
    }
}
