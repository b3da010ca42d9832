package org.peft4j.djl.ia3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;

/**
 * (IA)³ on DJL against its formula written out in double arithmetic: the forward pass, merge and
 * unmerge as PEFT's ia3.Linear computes them; saving and loading; several adapters; errors.
 */
class Ia3Test {
    private static final int IN = 5;
    private static final int HIDDEN = 7;
    private static final int OUT = 3;
    private static final int ROWS = 4;

    @TempDir
    Path dir;

    private NDManager manager;
    private Block block;
    private NDArray x;
    private float[] baseOutput;

    /** y = ff(tanh(key(x) + value(x))): key and value are scaled at the output, ff (a feed-forward module) at the input. */
    static final class Block extends AbstractBlock {
        private final Linear key;
        private final Linear value;
        private final Linear ff;

        Block() {
            key = addChildBlock("key", Linear.builder().setUnits(HIDDEN).build());
            value = addChildBlock("value", Linear.builder().setUnits(HIDDEN).build());
            ff = addChildBlock("ff", Linear.builder().setUnits(OUT).build());
        }

        @Override
        protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
            NDArray k = key.forward(ps, inputs, training).singletonOrThrow();
            NDArray v = value.forward(ps, inputs, training).singletonOrThrow();
            return ff.forward(ps, new NDList(k.add(v).tanh()), training);
        }

        @Override
        public Shape[] getOutputShapes(Shape[] inputs) {
            return new Shape[] {new Shape(inputs[0].get(0), OUT)};
        }

        @Override
        protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
            key.initialize(manager, dataType, inputShapes);
            value.initialize(manager, dataType, inputShapes);
            ff.initialize(manager, dataType, new Shape(inputShapes[0].get(0), HIDDEN));
        }
    }

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(11);
        manager = NDManager.newBaseManager();
        block = newBlock();
        x = manager.randomNormal(new Shape(ROWS, IN));
        baseOutput = forward(block, x);
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private Block newBlock() {
        Block b = new Block();
        b.initialize(manager, DataType.FLOAT32, new Shape(ROWS, IN));
        // DJL starts biases at zero; nonzero ones show whether the bias is scaled with the output
        for (var p : b.getParameters()) {
            if (p.getKey().endsWith("bias")) {
                p.getValue().getArray().set(manager.randomNormal(p.getValue().getArray().getShape()).toFloatArray());
            }
        }
        return b;
    }

    private static float[] forward(ai.djl.nn.Block block, NDArray x) {
        return block.forward(new ParameterStore(x.getManager(), false), new NDList(x), false).singletonOrThrow().toFloatArray();
    }

    private static Ia3Config randomIa3() {
        return Ia3Config.builder().setTargetModules("key", "value", "ff").optFeedforwardModules("ff")
                .optInitIa3Weights(false).build();
    }

    /** One Linear layer's values as doubles: W [out][in], b [out]. */
    private record Dense(double[][] w, double[] b) {
        static Dense of(Linear layer) {
            Linear base = layer instanceof Ia3Linear ia3 ? ia3.base() : layer;
            NDArray w = base.getParameters().get("weight").getArray();
            float[] flat = w.toFloatArray();
            int out = (int) w.getShape().get(0);
            int in = (int) w.getShape().get(1);
            double[][] m = new double[out][in];
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < in; j++) {
                    m[i][j] = flat[i * in + j];
                }
            }
            float[] bias = base.getParameters().get("bias").getArray().toFloatArray();
            double[] b = new double[out];
            for (int i = 0; i < out; i++) {
                b[i] = bias[i];
            }
            return new Dense(m, b);
        }

        double[] apply(double[] v) {
            double[] y = new double[b.length];
            for (int i = 0; i < b.length; i++) {
                y[i] = b[i];
                for (int j = 0; j < v.length; j++) {
                    y[i] += w[i][j] * v[j];
                }
            }
            return y;
        }
    }

    private static double[] vector(PeftModel peft, String module) {
        float[] l = peft.adapter(peft.activeAdapter()).stateDict().get("base_model.model." + module + ".ia3_l").toFloatArray();
        double[] out = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = l[i];
        }
        return out;
    }

    private static double[] times(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] * b[i];
        }
        return out;
    }

    /** The formula: y = Wf (lf ⊙ tanh(lk ⊙ (Wk x + bk) + lv ⊙ (Wv x + bv))) + bf, on the base weights. */
    private double[] formula(Dense key, Dense value, Dense ff, double[] lk, double[] lv, double[] lf) {
        float[] xs = x.toFloatArray();
        double[] out = new double[ROWS * OUT];
        for (int r = 0; r < ROWS; r++) {
            double[] row = new double[IN];
            for (int j = 0; j < IN; j++) {
                row[j] = xs[r * IN + j];
            }
            double[] k = times(lk, key.apply(row));
            double[] v = times(lv, value.apply(row));
            double[] h = new double[HIDDEN];
            for (int i = 0; i < HIDDEN; i++) {
                h[i] = Math.tanh(k[i] + v[i]);
            }
            double[] y = ff.apply(times(lf, h));
            System.arraycopy(y, 0, out, r * OUT, OUT);
        }
        return out;
    }

    private static double maxAbsDiff(float[] a, double[] b) {
        assertThat(a).hasSize(b.length);
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    private static double[] flat(double[][] m) {
        return java.util.Arrays.stream(m).flatMapToDouble(java.util.Arrays::stream).toArray();
    }

    @Test
    void forwardMergeAndUnmergeFollowTheFormula() {
        Dense key = Dense.of(block.key);
        Dense value = Dense.of(block.value);
        Dense ff = Dense.of(block.ff);
        PeftModel peft = Peft.apply(block, randomIa3());
        double[] lk = vector(peft, "key");
        double[] lv = vector(peft, "value");
        double[] lf = vector(peft, "ff");
        double[] expected = formula(key, value, ff, lk, lv, lf);
        assertThat(maxAbsDiff(forward(block, x), expected)).isLessThan(1e-5);
        assertThat(maxAbsDiff(baseOutput, expected)).isGreaterThan(1e-2); // the vectors do change the output

        peft.merge();
        assertThat(peft.isMerged()).isTrue();
        assertThat(maxAbsDiff(forward(block, x), expected)).isLessThan(1e-5);
        // W's rows and b scaled by l [out, 1] where the output is scaled; W's columns, not b, by l [1, in] on ff
        double[][] keyMerged = new double[HIDDEN][IN];
        double[] keyBiasMerged = new double[HIDDEN];
        for (int i = 0; i < HIDDEN; i++) {
            keyBiasMerged[i] = lk[i] * key.b()[i];
            for (int j = 0; j < IN; j++) {
                keyMerged[i][j] = lk[i] * key.w()[i][j];
            }
        }
        double[][] ffMerged = new double[OUT][HIDDEN];
        for (int i = 0; i < OUT; i++) {
            for (int j = 0; j < HIDDEN; j++) {
                ffMerged[i][j] = ff.w()[i][j] * lf[j];
            }
        }
        Dense keyNow = Dense.of(block.key);
        Dense ffNow = Dense.of(block.ff);
        assertThat(maxAbsDiff(toFloats(flat(keyNow.w())), flat(keyMerged))).isLessThan(1e-5);
        assertThat(maxAbsDiff(toFloats(keyNow.b()), keyBiasMerged)).isLessThan(1e-5);
        assertThat(maxAbsDiff(toFloats(flat(ffNow.w())), flat(ffMerged))).isLessThan(1e-5);
        assertThat(maxAbsDiff(toFloats(ffNow.b()), ff.b())).isZero();

        peft.unmerge();
        assertThat(peft.isMerged()).isFalse();
        // PEFT's unmerge divides by l + 1e-8: the base values come back to float rounding
        assertThat(maxAbsDiff(toFloats(flat(Dense.of(block.key).w())), flat(key.w()))).isLessThan(1e-5);
        assertThat(maxAbsDiff(toFloats(Dense.of(block.key).b()), key.b())).isLessThan(1e-5);
        assertThat(maxAbsDiff(toFloats(flat(Dense.of(block.ff).w())), flat(ff.w()))).isLessThan(1e-5);
        assertThat(maxAbsDiff(forward(block, x), expected)).isLessThan(1e-5);
    }

    private static float[] toFloats(double[] d) {
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    @Test
    void aFreshAdapterOfOnesChangesNothingAndTrainsOneVectorPerLayer() {
        PeftModel peft = Peft.apply(block, Ia3Config.builder().setTargetModules("key", "value", "ff")
                .optFeedforwardModules("ff").build());
        assertThat(forward(block, x)).containsExactly(baseOutput);
        // key, value: [HIDDEN, 1] each; ff: [1, HIDDEN]
        assertThat(peft.trainableParameters().trainable()).isEqualTo(3L * HIDDEN);
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        assertThat(state.get("base_model.model.key.ia3_l").shape()).containsExactly(HIDDEN, 1);
        assertThat(state.get("base_model.model.ff.ia3_l").shape()).containsExactly(1, HIDDEN);
        assertThat(state.get("base_model.model.ff.ia3_l").toFloatArray()).containsOnly(1f);
    }

    @Test
    void savedVectorsLoadBackExactlyAndGiveTheSameOutput() throws IOException {
        PeftModel peft = Peft.apply(block, randomIa3().toBuilder().optModulesToSave("value").build());
        float[] adapted = forward(block, x);
        Map<String, Tensor> saved = peft.adapter("default").stateDict();
        peft.saveAdapter(dir);
        AdapterCheckpoint checkpoint = AdapterCheckpoint.load(dir);
        assertThat(checkpoint.tensors().keySet()).containsExactlyInAnyOrder("base_model.model.key.ia3_l",
                "base_model.model.ff.ia3_l", "base_model.model.value.weight", "base_model.model.value.bias");

        Block twin = newBlock();
        for (var p : block.getParameters()) {
            Parameter other = twin.getParameters().get(p.getKey());
            if (other != null) {
                other.getArray().set(p.getValue().getArray().toFloatArray());
            }
        }
        PeftModel loaded = Peft.load(twin, dir);
        Map<String, Tensor> reloaded = loaded.adapter("default").stateDict();
        assertThat(reloaded.keySet()).isEqualTo(saved.keySet());
        saved.forEach((k, t) -> assertThat(reloaded.get(k).toFloatArray()).as(k).containsExactly(t.toFloatArray()));
        assertThat(forward(twin, x)).containsExactly(adapted);
        assertThat(loaded.adapter("default").config()).isEqualTo(checkpoint.config());
    }

    @Test
    void aSavedVectorOfTheWrongShapeIsRefusedAndTheModelIsUnchanged() throws IOException {
        Peft.apply(block, randomIa3()).saveAdapter(dir);
        Block other = newBlock();
        float[] before = forward(other, x);
        // the same file read as if ff were not feed-forward: its vector must then be [out, 1]
        Ia3Config notFeedforward = Ia3Config.builder().setTargetModules("key", "value", "ff").build();
        AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
        assertThatThrownBy(() -> Peft.load(other, new AdapterCheckpoint(notFeedforward, saved.tensors()), "dir"))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("module ff: \"base_model.model.ff.ia3_l\" expected shape [3, 1] (not feed-forward:"
                        + " [out, 1]), found [1, 7]");
        assertThat(forward(other, x)).containsExactly(before);
    }

    @Test
    void adaptersSwitchDisableAndUnload() {
        Linear originalKey = block.key;
        PeftModel peft = Peft.apply(block, randomIa3(), "first");
        float[] first = forward(block, x);
        peft.addAdapter("second", Ia3Config.builder().setTargetModules("value").optInitIa3Weights(false).build());
        float[] second = forward(block, x);
        assertThat(maxAbsDiff(first, toDoubles(second))).isGreaterThan(1e-3);
        assertThat(peft.trainableParameters().trainable()).isEqualTo(HIDDEN);
        peft.setActiveAdapter("first");
        assertThat(forward(block, x)).containsExactly(first);
        try (PeftModel.Scope off = peft.disableAdapters()) {
            assertThat(forward(block, x)).containsExactly(baseOutput);
        }
        peft.merge();
        try (PeftModel.Scope off = peft.disableAdapters()) {
            assertThat(maxAbsDiff(forward(block, x), toDoubles(baseOutput))).isLessThan(1e-5);
        }
        assertThat(maxAbsDiff(forward(block, x), toDoubles(first))).isLessThan(1e-5);
        peft.unload();
        assertThat(block.key).isSameAs(originalKey);
        assertThat(maxAbsDiff(forward(block, x), toDoubles(baseOutput))).isLessThan(1e-5);
    }

    @Test
    void mergeAndUnloadLeavesPlainLinearLayers() {
        PeftModel peft = Peft.apply(block, randomIa3());
        float[] adapted = forward(block, x);
        peft.mergeAndUnload();
        assertThat(block.ff.getClass()).isEqualTo(Linear.class);
        assertThat(maxAbsDiff(forward(block, x), toDoubles(adapted))).isLessThan(1e-5);
    }

    private static double[] toDoubles(float[] f) {
        double[] out = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = f[i];
        }
        return out;
    }

    @Test
    void targetsThatMatchNothingListTheModulesAndAnotherMethodIsRefused() {
        assertThatThrownBy(() -> Peft.apply(block, Ia3Config.builder().setTargetModules("query").build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("target_modules [query] matched no Linear layer. The model's modules are: key (Linear),"
                        + " value (Linear), ff (Linear)");
        PeftModel peft = Peft.apply(block, LoraConfig.builder().setTargetModules("key").build());
        assertThatThrownBy(() -> peft.addAdapter("ia3", Ia3Config.builder().setTargetModules("value").build()))
                .hasMessageContaining("cannot combine adapters of different peft types: adapter default is LORA and the"
                        + " new one is IA3");
        assertThat(block.value.getClass()).isEqualTo(Linear.class); // nothing was changed
        assertThat(peft.adapterNames()).containsExactly("default");
        // a second PeftModel on a block that another one adapts finds the layer taken
        assertThatThrownBy(() -> Peft.apply(block, Ia3Config.builder().setTargetModules("key", "value").build()))
                .hasMessageContaining("module key is already adapted by another method (LoraLinear)");
    }
}
