package org.peft4j.djl.models.roberta;

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
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertLayerNorm;
import org.peft4j.djl.models.EmbeddingTable;

/**
 * RoBERTa's input embeddings, Hugging Face's {@code RobertaEmbeddings}: word + position + token
 * type, then LayerNorm and dropout, with the children {@code word_embeddings},
 * {@code position_embeddings}, {@code token_type_embeddings} and {@code LayerNorm}. Positions
 * count real tokens only and start after the padding id: the i-th real token of a row sits at
 * {@code pad_token_id + i} (i from 1), and padding at {@code pad_token_id} (transformers 5.18
 * {@code models/roberta/modeling_roberta.py} lines 142-155, {@code create_position_ids_from_input_ids}:
 * {@code cumsum(mask) * mask + padding_idx}). The mask here is the attention mask, so a batch padded
 * with any id numbers its real tokens right.
 */
public final class RobertaEmbeddings extends AbstractBlock {
    private final EmbeddingTable wordEmbeddings;
    private final EmbeddingTable positionEmbeddings;
    private final EmbeddingTable tokenTypeEmbeddings;
    private final BertLayerNorm layerNorm;
    private final float dropout;
    private final int padTokenId;

    RobertaEmbeddings(RobertaConfig config) {
        BertConfig c = config.layers();
        wordEmbeddings = addChildBlock("word_embeddings", new EmbeddingTable(c.vocabSize(), c.hiddenSize()));
        positionEmbeddings = addChildBlock("position_embeddings",
                new EmbeddingTable(c.maxPositionEmbeddings(), c.hiddenSize()));
        tokenTypeEmbeddings = addChildBlock("token_type_embeddings", new EmbeddingTable(c.typeVocabSize(), c.hiddenSize()));
        layerNorm = addChildBlock("LayerNorm", new BertLayerNorm(c.hiddenSize(), c.layerNormEps()));
        dropout = c.hiddenDropoutProb();
        padTokenId = config.padTokenId();
    }

    /** Returns the word embedding table, [vocab, hidden]. */
    public EmbeddingTable wordEmbeddings() {
        return wordEmbeddings;
    }

    /**
     * The position ids [B, T'] of a forward pass. Real tokens only: {@code (cumsum(mask) + offset)
     * * mask + pad}, where {@code offset} is prefix-tuning's number of cached positions (line 154:
     * {@code + past_key_values_length}). With a prompt of n virtual tokens, transformers gets
     * {@code inputs_embeds} and numbers every position in order, {@code pad + 1} to
     * {@code pad + n + T} ({@code create_position_ids_from_inputs_embeds}, lines 124-139).
     */
    NDArray positionIds(NDArray mask, int promptLength, int offset) {
        NDManager manager = mask.getManager();
        Shape shape = mask.getShape();
        long length = shape.get(1) + promptLength;
        NDArray positions;
        if (promptLength > 0) {
            positions = manager.arange(padTokenId + 1, padTokenId + 1 + (int) length).toType(DataType.INT64, false)
                    .expandDims(0).broadcast(new Shape(shape.get(0), length));
        } else {
            NDArray m = mask.toType(DataType.INT64, false);
            positions = m.cumSum(1).add(offset).mul(m).add(padTokenId);
        }
        long last = padTokenId + offset + length;
        if (last >= positionEmbeddings.rows()) {
            throw new IllegalArgumentException("a sequence of " + length + " tokens"
                    + (promptLength > 0 || offset > 0 ? " (with " + (promptLength + offset) + " virtual tokens)" : "")
                    + " needs position " + last + ", past the position table (" + positionEmbeddings.rows()
                    + " rows, the first " + (padTokenId + 1) + " reserved); truncate the input to at most "
                    + (positionEmbeddings.rows() - padTokenId - 1 - offset - promptLength) + " tokens");
        }
        return positions;
    }

    /**
     * Embeds token ids [B, T] under their attention mask [B, T] (1 real, 0 padding), with their
     * token types (null: all 0), after a prompt's embeddings [1, n, H] if given (type 0), the
     * real tokens' positions shifted by {@code offset}.
     *
     * @throws IllegalArgumentException if the positions run past the position table
     */
    NDArray embed(ParameterStore ps, NDArray ids, NDArray mask, NDArray tokenTypes, NDArray prompts, int offset,
            boolean training) {
        NDManager manager = ids.getManager();
        NDArray types = tokenTypes != null ? tokenTypes.toType(DataType.INT64, false)
                : manager.zeros(ids.getShape(), DataType.INT64);
        NDArray words = wordEmbeddings.lookup(ps, ids.toType(DataType.INT64, false), training);
        int promptLength = 0;
        if (prompts != null) {
            Shape p = prompts.getShape();
            long batch = ids.getShape().get(0);
            promptLength = (int) p.get(1);
            words = prompts.broadcast(new Shape(batch, p.get(1), p.get(2))).concat(words, 1);
            types = manager.zeros(new Shape(batch, p.get(1)), DataType.INT64).concat(types, 1);
        }
        NDArray positions = positionIds(mask, promptLength, offset);
        NDArray sum = words
                .add(tokenTypeEmbeddings.lookup(ps, types, training))
                .add(positionEmbeddings.lookup(ps, positions, training));
        NDArray normalized = layerNorm.normalize(ps, sum, training);
        return training && dropout > 0 ? Dropout.dropout(normalized, dropout, true).singletonOrThrow() : normalized;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray ids = inputs.get(0);
        NDArray mask = inputs.size() > 1 ? inputs.get(1) : ids.getManager().ones(ids.getShape(), DataType.INT64);
        return new NDList(embed(ps, ids, mask, inputs.size() > 2 ? inputs.get(2) : null, null, 0, training));
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
