package org.peft4j.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.util.IdentityHashMap;
import java.util.Map;

/** Small real DJL block trees for the tests, and helpers to read their values. */
final class TestBlocks {
    private TestBlocks() {}

    /**
     * A user's own block that keeps its Linear children in private final fields, as application
     * code and DJL's transformer blocks do: out = output(tanh(query(x) + value(x))).
     */
    static final class TwoTower extends AbstractBlock {
        private final Linear query;
        private final Linear value;
        private final Linear output;

        TwoTower(int hidden, int outputs) {
            query = addChildBlock("query", Linear.builder().setUnits(hidden).build());
            value = addChildBlock("value", Linear.builder().setUnits(hidden).build());
            output = addChildBlock("output", Linear.builder().setUnits(outputs).build());
        }

        Linear queryField() {
            return query;
        }

        @Override
        protected NDList forwardInternal(
                ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray q = query.forward(ps, inputs, training).singletonOrThrow();
            NDArray v = value.forward(ps, inputs, training).singletonOrThrow();
            return output.forward(ps, new NDList(q.add(v).tanh()), training);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            Shape hidden = query.getOutputShapes(inputs)[0];
            return output.getOutputShapes(new Shape[] {hidden});
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            query.initialize(manager, dataType, inputShapes);
            value.initialize(manager, dataType, inputShapes);
            output.initialize(manager, dataType, query.getOutputShapes(inputShapes));
        }
    }

    /** A two-layer perceptron: Linear(hidden) - ReLU - Linear(outputs). */
    static SequentialBlock mlp(int hidden, int outputs) {
        return new SequentialBlock()
                .add(Linear.builder().setUnits(hidden).build())
                .add(Activation.reluBlock())
                .add(Linear.builder().setUnits(outputs).build());
    }

    /** Returns a copy of every parameter's values, keyed by the parameter object. */
    static Map<Parameter, float[]> snapshot(Block block) {
        Map<Parameter, float[]> out = new IdentityHashMap<>();
        for (Pair<String, Parameter> p : block.getParameters()) {
            out.put(p.getValue(), p.getValue().getArray().toFloatArray());
        }
        return out;
    }

    /** Runs an inference forward pass. */
    static NDArray forward(Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow();
    }

    /** Returns the largest absolute difference between two arrays of the same length. */
    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new AssertionError("lengths differ: " + a.length + " vs " + b.length);
        }
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((double) a[i] - b[i]));
        }
        return max;
    }
}
