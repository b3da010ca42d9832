package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.EmbeddingTable;

/**
 * BERT's input embeddings: word + absolute position + token type, then LayerNorm and dropout.
 * Children: {@code word_embeddings}, {@code position_embeddings}, {@code token_type_embeddings},
 * {@code LayerNorm}, as in Hugging Face's {@code BertEmbeddings}.
 */
public final class BertEmbeddings extends AbstractBlock {
    private final EmbeddingTable wordEmbeddings;
    private final EmbeddingTable positionEmbeddings;
    private final EmbeddingTable tokenTypeEmbeddings;
    private final BertLayerNorm layerNorm;
    private final float dropout;

    BertEmbeddings(BertConfig config) {
        wordEmbeddings = addChildBlock("word_embeddings", new EmbeddingTable(config.vocabSize(), config.hiddenSize()));
        positionEmbeddings = addChildBlock("position_embeddings",
                new EmbeddingTable(config.maxPositionEmbeddings(), config.hiddenSize()));
        tokenTypeEmbeddings = addChildBlock("token_type_embeddings",
                new EmbeddingTable(config.typeVocabSize(), config.hiddenSize()));
        layerNorm = addChildBlock("LayerNorm", new BertLayerNorm(config.hiddenSize(), config.layerNormEps()));
        dropout = config.hiddenDropoutProb();
    }

    /** Returns the word embedding table, [vocab, hidden]. */
    public EmbeddingTable wordEmbeddings() {
        return wordEmbeddings;
    }

    /**
     * Embeds token ids [B, T] with their token types [B, T] (null: all type 0), after the prompt
     * embeddings [1, n, H] of prompt-tuning if they are given (type 0, positions 0 to n - 1), the
     * first position numbered {@code positionOffset} (the number of prefix-tuning's cached
     * positions, as transformers numbers tokens after {@code past_key_values}).
     *
     * @throws IllegalArgumentException if the positions run past the position table
     */
    NDArray embed(ParameterStore ps, NDArray ids, NDArray tokenTypes, NDArray prompts, int positionOffset,
            boolean training) {
        NDManager manager = ids.getManager();
        NDArray types = tokenTypes != null ? tokenTypes.toType(DataType.INT64, false) : manager.zeros(ids.getShape(), DataType.INT64);
        NDArray words = wordEmbeddings.lookup(ps, ids.toType(DataType.INT64, false), training);
        if (prompts != null) {
            Shape p = prompts.getShape();
            long batch = ids.getShape().get(0);
            words = prompts.broadcast(new Shape(batch, p.get(1), p.get(2))).concat(words, 1);
            types = manager.zeros(new Shape(batch, p.get(1)), DataType.INT64).concat(types, 1);
        }
        long length = words.getShape().get(1);
        if (positionOffset + length > positionEmbeddings.rows()) {
            long room = positionEmbeddings.rows() - positionOffset - (prompts != null ? prompts.getShape().get(1) : 0);
            throw new IllegalArgumentException("a sequence of " + (positionOffset + length) + " tokens"
                    + (prompts != null || positionOffset > 0 ? " (virtual tokens included)" : "")
                    + " is longer than the position table (" + positionEmbeddings.rows()
                    + " positions); truncate the input to at most " + room + " tokens");
        }
        NDArray positions = manager.arange(positionOffset, positionOffset + (int) length).toType(DataType.INT64, false);
        NDArray sum = words
                .add(tokenTypeEmbeddings.lookup(ps, types, training))
                .add(positionEmbeddings.lookup(ps, positions, training));
        NDArray normalized = layerNorm.normalize(ps, sum, training);
        return training && dropout > 0 ? Dropout.dropout(normalized, dropout, true).singletonOrThrow() : normalized;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(embed(ps, inputs.get(0), inputs.size() > 1 ? inputs.get(1) : null, null, 0, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(wordEmbeddings.weight().getShape().get(1))};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (ai.djl.nn.Block child : getChildren().values()) {
            child.initialize(manager, dataType, inputShapes[0]);
        }
    }
}
