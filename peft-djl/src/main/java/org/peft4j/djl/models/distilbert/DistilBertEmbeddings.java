package org.peft4j.djl.models.distilbert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Block;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.models.bert.BertLayerNorm;
import org.peft4j.djl.models.EmbeddingTable;

/**
 * DistilBERT's {@code Embeddings}: word + position (from 0, padding included: transformers 5.18
 * {@code models/distilbert/modeling_distilbert.py} lines 103-108, {@code position_ids[:, :seq_length]}),
 * then LayerNorm and dropout; no token types. Children {@code word_embeddings},
 * {@code position_embeddings}, {@code LayerNorm}.
 */
public final class DistilBertEmbeddings extends AbstractBlock {
    private final EmbeddingTable wordEmbeddings;
    private final EmbeddingTable positionEmbeddings;
    private final BertLayerNorm layerNorm;
    private final float dropout;

    DistilBertEmbeddings(DistilBertConfig config) {
        wordEmbeddings = addChildBlock("word_embeddings", new EmbeddingTable(config.vocabSize(), config.dim()));
        positionEmbeddings = addChildBlock("position_embeddings",
                new EmbeddingTable(config.maxPositionEmbeddings(), config.dim()));
        layerNorm = addChildBlock("LayerNorm", new BertLayerNorm(config.dim(), DistilBertConfig.LAYER_NORM_EPS));
        dropout = config.dropout();
    }

    /** Returns the word embedding table, [vocab, dim]. */
    public EmbeddingTable wordEmbeddings() {
        return wordEmbeddings;
    }

    /**
     * Embeds token ids [B, T] after a prompt's embeddings [1, n, H] if given; positions run from 0
     * over the whole sequence, as transformers numbers {@code inputs_embeds}.
     *
     * @throws IllegalArgumentException if the sequence is longer than the position table
     */
    NDArray embed(ParameterStore ps, NDArray ids, NDArray prompts, boolean training) {
        NDArray words = wordEmbeddings.lookup(ps, ids.toType(DataType.INT64, false), training);
        if (prompts != null) {
            Shape p = prompts.getShape();
            words = prompts.broadcast(new Shape(ids.getShape().get(0), p.get(1), p.get(2))).concat(words, 1);
        }
        long length = words.getShape().get(1);
        if (length > positionEmbeddings.rows()) {
            long room = positionEmbeddings.rows() - (prompts != null ? prompts.getShape().get(1) : 0);
            throw new IllegalArgumentException("a sequence of " + length + " tokens"
                    + (prompts != null ? " (virtual tokens included)" : "") + " is longer than the position table ("
                    + positionEmbeddings.rows() + " positions); truncate the input to at most " + room + " tokens");
        }
        NDArray positions = ids.getManager().arange(0, (int) length).toType(DataType.INT64, false);
        NDArray normalized = layerNorm.normalize(ps, words.add(positionEmbeddings.lookup(ps, positions, training)), training);
        return training && dropout > 0 ? Dropout.dropout(normalized, dropout, true).singletonOrThrow() : normalized;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(embed(ps, inputs.get(0), null, training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0].add(wordEmbeddings.weight().getShape().get(1))};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        for (Block child : getChildren().values()) {
            child.initialize(manager, dataType, inputShapes[0]);
        }
    }
}
