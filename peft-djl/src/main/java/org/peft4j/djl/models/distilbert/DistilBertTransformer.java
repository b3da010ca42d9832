package org.peft4j.djl.models.distilbert;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import org.peft4j.djl.internal.NativeScalars;
import org.peft4j.djl.models.LayerList;
import org.peft4j.djl.models.bert.BertLayerNorm;

/**
 * DistilBERT's {@code Transformer}: the child {@code layer} holds the blocks {@code layer.0},
 * {@code layer.1}, ..., each a {@link Block} as transformers 5.18's {@code TransformerBlock}
 * ({@code models/distilbert/modeling_distilbert.py} lines 227-259): self-attention
 * ({@code attention.q_lin}, {@code k_lin}, {@code v_lin}, {@code out_lin}), {@code sa_layer_norm}
 * of it plus the input, the feed-forward {@code ffn.lin1}, activation, {@code ffn.lin2}, dropout,
 * and {@code output_layer_norm} of that plus its input.
 */
public final class DistilBertTransformer extends AbstractBlock {
    private final LayerList<Block> layers;

    DistilBertTransformer(DistilBertConfig config) {
        layers = addChildBlock("layer", new LayerList<>(config.nLayers(), i -> new Block(config),
                new Shape(1, 1, config.dim())));
    }

    /** Runs every block on {@code hidden} [B, S, H] under an additive mask [B, 1, 1, S]. */
    NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, boolean training) {
        NDArray h = hidden;
        for (int l = 0; l < layers.size(); l++) {
            h = layers.get(l).apply(ps, h, additiveMask, training);
        }
        return h;
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        return new NDList(apply(ps, inputs.get(0), inputs.get(1), training));
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        return new Shape[] {inputShapes[0]};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        layers.initialize(manager, dataType, inputShapes);
    }

    /** One {@code TransformerBlock}. */
    public static final class Block extends AbstractBlock {
        private final Attention attention;
        private final BertLayerNorm saLayerNorm;
        private final Ffn ffn;
        private final BertLayerNorm outputLayerNorm;

        Block(DistilBertConfig config) {
            attention = addChildBlock("attention", new Attention(config));
            saLayerNorm = addChildBlock("sa_layer_norm", new BertLayerNorm(config.dim(), DistilBertConfig.LAYER_NORM_EPS));
            ffn = addChildBlock("ffn", new Ffn(config));
            outputLayerNorm = addChildBlock("output_layer_norm",
                    new BertLayerNorm(config.dim(), DistilBertConfig.LAYER_NORM_EPS));
        }

        NDArray apply(ParameterStore ps, NDArray hidden, NDArray additiveMask, boolean training) {
            NDArray attended = saLayerNorm.normalize(ps, attention.attend(ps, hidden, additiveMask, training).add(hidden),
                    training);
            return outputLayerNorm.normalize(ps, ffn.apply(ps, attended, training).add(attended), training);
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            return new NDList(apply(ps, inputs.get(0), inputs.get(1), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0]};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            attention.initialize(manager, dataType, inputShapes[0]);
            saLayerNorm.initialize(manager, dataType, inputShapes[0]);
            ffn.initialize(manager, dataType, inputShapes[0]);
            outputLayerNorm.initialize(manager, dataType, inputShapes[0]);
        }
    }

    /**
     * {@code DistilBertSelfAttention} (lines 150-203, with {@code eager_attention_forward}, lines
     * 122-147): softmax(Q Kᵀ / sqrt(d) + mask) V per head, then {@code out_lin}.
     */
    static final class Attention extends AbstractBlock {
        private final Linear qLin;
        private final Linear kLin;
        private final Linear vLin;
        private final Linear outLin;
        private final int heads;
        private final int headSize;
        private final float dropout;

        Attention(DistilBertConfig config) {
            qLin = addChildBlock("q_lin", Linear.builder().setUnits(config.dim()).build());
            kLin = addChildBlock("k_lin", Linear.builder().setUnits(config.dim()).build());
            vLin = addChildBlock("v_lin", Linear.builder().setUnits(config.dim()).build());
            outLin = addChildBlock("out_lin", Linear.builder().setUnits(config.dim()).build());
            heads = config.nHeads();
            headSize = config.headSize();
            dropout = config.attentionDropout();
        }

        private NDArray heads(Linear linear, ParameterStore ps, NDArray x, boolean training) {
            Shape s = x.getShape();
            return linear.forward(ps, new NDList(x), training).singletonOrThrow()
                    .reshape(s.get(0), s.get(1), heads, headSize).transpose(0, 2, 1, 3);
        }

        NDArray attend(ParameterStore ps, NDArray hidden, NDArray additiveMask, boolean training) {
            NDArray q = heads(qLin, ps, hidden, training);
            NDArray k = heads(kLin, ps, hidden, training);
            NDArray v = heads(vLin, ps, hidden, training);
            NDArray scale = NativeScalars.of(hidden.getManager(), (float) Math.sqrt(headSize));
            NDArray probs = q.matMul(k.transpose(0, 1, 3, 2)).div(scale).add(additiveMask).softmax(-1);
            if (training && dropout > 0) {
                probs = Dropout.dropout(probs, dropout, true).singletonOrThrow();
            }
            Shape s = hidden.getShape();
            NDArray context = probs.matMul(v).transpose(0, 2, 1, 3).reshape(s.get(0), s.get(1), s.get(2));
            return outLin.forward(ps, new NDList(context), training).singletonOrThrow();
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            return new NDList(attend(ps, inputs.get(0), inputs.get(1), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0]};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            for (Linear linear : new Linear[] {qLin, kLin, vLin, outLin}) {
                linear.initialize(manager, dataType, inputShapes[0]);
            }
        }
    }

    /** {@code FFN} (lines 206-224): {@code lin1}, the activation, {@code lin2}, dropout. */
    static final class Ffn extends AbstractBlock {
        private final Linear lin1;
        private final Linear lin2;
        private final boolean gelu;
        private final int hiddenDim;
        private final float dropout;

        Ffn(DistilBertConfig config) {
            lin1 = addChildBlock("lin1", Linear.builder().setUnits(config.hiddenDim()).build());
            lin2 = addChildBlock("lin2", Linear.builder().setUnits(config.dim()).build());
            gelu = config.activation().equals("gelu");
            hiddenDim = config.hiddenDim();
            dropout = config.dropout();
        }

        NDArray apply(ParameterStore ps, NDArray hidden, boolean training) {
            NDArray up = lin1.forward(ps, new NDList(hidden), training).singletonOrThrow();
            up = gelu ? Activation.gelu(up) : Activation.relu(up);
            NDArray down = lin2.forward(ps, new NDList(up), training).singletonOrThrow();
            return training && dropout > 0 ? Dropout.dropout(down, dropout, true).singletonOrThrow() : down;
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            return new NDList(apply(ps, inputs.singletonOrThrow(), training));
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0]};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            Shape hidden = inputShapes[0];
            lin1.initialize(manager, dataType, hidden);
            lin2.initialize(manager, dataType, hidden.slice(0, hidden.dimension() - 1).add(hiddenDim));
        }
    }
}
