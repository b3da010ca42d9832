package org.peft4j.djl.generation;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.KeyValueCache;

/**
 * What the generator feeds a model at each step, read by a stand-in model that records its inputs
 * and always predicts the last token plus one: the prompt once, then only the new token with the
 * cache; transformers' attention mask and position ids for left padding (cumsum(mask) - 1,
 * padding at 0, utils.py line 900; each new token one past the last, line 1263).
 */
class GeneratorInputsTest {
    @Test
    void withTheCacheThePromptIsReadOnceThenOneTokenPerStep() {
        try (NDManager manager = NDManager.newBaseManager()) {
            RecordingModel model = new RecordingModel();
            long[][] out = new Generator(model, GenerationConfig.builder().optMaxNewTokens(3).optPadTokenId(0).build())
                    .generate(manager, List.of(new long[] {5, 6, 7}, new long[] {9}));
            assertThat(out).isDeepEqualTo(new long[][] {{8, 9, 10}, {10, 11, 12}});
            assertThat(model.calls).containsExactly(
                    "ids [[5, 6, 7], [0, 0, 9]] mask [[1, 1, 1], [0, 0, 1]] positions [[0, 1, 2], [0, 0, 0]] past 0",
                    "ids [[8], [10]] mask [[1, 1, 1, 1], [0, 0, 1, 1]] positions [[3], [1]] past 3",
                    "ids [[9], [11]] mask [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]] positions [[4], [2]] past 4");
        }
    }

    @Test
    void withoutTheCacheTheWholeSequenceIsReadEachStep() {
        try (NDManager manager = NDManager.newBaseManager()) {
            RecordingModel model = new RecordingModel();
            new Generator(model, GenerationConfig.builder().optMaxNewTokens(2).optPadTokenId(0).optUseCache(false).build())
                    .generate(manager, List.of(new long[] {5, 6}, new long[] {9}));
            assertThat(model.calls).containsExactly(
                    "ids [[5, 6], [0, 9]] mask [[1, 1], [0, 1]] positions [[0, 1], [0, 0]] past none",
                    "ids [[5, 6, 7], [0, 9, 10]] mask [[1, 1, 1], [0, 1, 1]] positions [[0, 1, 2], [0, 0, 1]] past none");
        }
    }

    @Test
    void promptsOfOneLengthNeedNoMask() {
        try (NDManager manager = NDManager.newBaseManager()) {
            RecordingModel model = new RecordingModel();
            new Generator(model, GenerationConfig.builder().optMaxNewTokens(2).build())
                    .generate(manager, List.of(new long[] {5, 6}));
            assertThat(model.calls).containsExactly("ids [[5, 6]] mask none positions [[0, 1]] past 0",
                    "ids [[7]] mask none positions [[2]] past 2");
        }
    }

    /** One layer whose cache holds [B, 1, T, 1] zeros; the logits make the last id + 1 the most likely. */
    private static final class RecordingModel extends AbstractBlock implements CausalLanguageModel {
        private static final int VOCAB = 20;
        final List<String> calls = new ArrayList<>();

        @Override
        public String modelType() {
            return "recording";
        }

        @Override
        public int vocabSize() {
            return VOCAB;
        }

        @Override
        public int numLayers() {
            return 1;
        }

        @Override
        public NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray positionIds,
                KeyValueCache cache, boolean training) {
            calls.add("ids " + rows(inputIds) + " mask " + (attentionMask == null ? "none" : rows(attentionMask))
                    + " positions " + rows(positionIds) + " past " + (cache == null ? "none" : cache.length()));
            Shape s = inputIds.getShape();
            NDManager m = inputIds.getManager();
            if (cache != null) {
                cache.append(0, m.zeros(new Shape(s.get(0), 1, s.get(1), 1)), m.zeros(new Shape(s.get(0), 1, s.get(1), 1)));
            }
            return inputIds.add(1).toType(DataType.INT64, false).oneHot(VOCAB)
                    .toType(DataType.FLOAT32, false);
        }

        private static String rows(NDArray array) {
            long[] values = array.toLongArray();
            int cols = (int) array.getShape().get(1);
            List<String> rows = new ArrayList<>();
            for (int r = 0; r < values.length / cols; r++) {
                List<Long> row = new ArrayList<>();
                for (int c = 0; c < cols; c++) {
                    row.add(values[r * cols + c]);
                }
                rows.add(row.toString());
            }
            return rows.toString();
        }

        @Override
        public Map<String, Tensor> huggingFaceWeights() {
            return Map.of();
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training,
                PairList<String, Object> params) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputShapes) {
            return new Shape[] {inputShapes[0].add(VOCAB)};
        }
    }
}
