package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.Tensor;

/**
 * DoRA ({@code use_dora}) against its formula written out in double arithmetic, as PEFT 0.21
 * computes it ({@code peft/tuners/lora/dora.py}, {@code DoraLinearLayer}; {@code variants.py},
 * {@code DoraLinearVariant}): m starts at ||W + s·B·A||_row, the output is
 * m / ||W + s·B·A||_row · (W x + s·B·A x) + b with the bias not rescaled and the norm detached from
 * the gradient, and merging writes m / ||W + ΔW||_row · (W + ΔW) into W.
 */
class DoraTest {
    private static final int IN = 10;
    private static final int OUT = 6;
    private static final int ROWS = 5;
    private static final int R = 4;
    private static final double S = 8.0 / R;
    private static final String KEY = "base_model.model.0.";

    private NDManager manager;
    private SequentialBlock block;
    private float[] w;
    private float[] bias;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(11);
        manager = NDManager.newBaseManager();
        Linear linear = Linear.builder().setUnits(OUT).build();
        block = new SequentialBlock().add(linear);
        block.initialize(manager, DataType.FLOAT32, new Shape(ROWS, IN));
        // a bias far from 0, so that rescaling it by mistake would show
        linear.getParameters().get("bias").getArray().set(FloatBuffer.wrap(new float[] {1, -2, 3, -0.5f, 0.7f, 2}));
        w = linear.getParameters().get("weight").getArray().toFloatArray();
        bias = linear.getParameters().get("bias").getArray().toFloatArray();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private PeftModel applyDora(float dropout) {
        return Peft.apply(block, LoraConfig.builder().optR(R).optLoraAlpha(8).optLoraDropout(dropout).optUseDora(true)
                .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("0").build());
    }

    /** The block's parameter whose name starts with {@code prefix}. */
    private Parameter parameter(String prefix) {
        for (Pair<String, Parameter> p : block.getParameters()) {
            if (p.getValue().getName().startsWith(prefix)) {
                return p.getValue();
            }
        }
        throw new AssertionError("no parameter " + prefix);
    }

    /** Moves m away from its start, as training would: m_j * (1 + 0.4 j - 0.9). */
    private float[] perturbMagnitude() {
        NDArray m = parameter("lora_magnitude_vector").getArray();
        float[] values = m.toFloatArray();
        for (int j = 0; j < values.length; j++) {
            values[j] *= 1 + 0.4f * j - 0.9f;
        }
        m.set(FloatBuffer.wrap(values));
        return values;
    }

    /** W + s·B·A in double, [out][in]. */
    private static double[][] combined(float[] w, float[] a, float[] b) {
        double[][] v = new double[OUT][IN];
        for (int j = 0; j < OUT; j++) {
            for (int i = 0; i < IN; i++) {
                double lora = 0;
                for (int k = 0; k < R; k++) {
                    lora += (double) b[j * R + k] * a[k * IN + i];
                }
                v[j][i] = w[j * IN + i] + S * lora;
            }
        }
        return v;
    }

    private static double[] rowNorms(double[][] v) {
        double[] n = new double[OUT];
        for (int j = 0; j < OUT; j++) {
            double sum = 0;
            for (int i = 0; i < IN; i++) {
                sum += v[j][i] * v[j][i];
            }
            n[j] = Math.sqrt(sum);
        }
        return n;
    }

    /** y[n, j] = m_j / ||W + s·B·A||_j · sum_i (W + s·B·A)[j, i] x[n, i] + b_j. */
    private float[] doraFormula(float[] x, float[] a, float[] b, float[] m) {
        double[][] v = combined(w, a, b);
        double[] norms = rowNorms(v);
        float[] y = new float[ROWS * OUT];
        for (int n = 0; n < ROWS; n++) {
            for (int j = 0; j < OUT; j++) {
                double dot = 0;
                for (int i = 0; i < IN; i++) {
                    dot += v[j][i] * x[n * IN + i];
                }
                y[n * OUT + j] = (float) (m[j] / norms[j] * dot + bias[j]);
            }
        }
        return y;
    }

    @Test
    void theMagnitudeStartsAtTheRowNormsAndTheForwardPassIsTheFormula() {
        PeftModel peft = applyDora(0);
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        float[] a = state.get(KEY + "lora_A.weight").toFloatArray();
        float[] b = state.get(KEY + "lora_B.weight").toFloatArray();
        Tensor magnitude = state.get(KEY + "lora_magnitude_vector");
        assertThat(magnitude.shape()).containsExactly(OUT);
        assertThat(state).containsOnlyKeys(KEY + "lora_A.weight", KEY + "lora_B.weight", KEY + "lora_magnitude_vector");
        double[] norms = rowNorms(combined(w, a, b));
        float[] m0 = magnitude.toFloatArray();
        for (int j = 0; j < OUT; j++) {
            assertThat((double) m0[j]).isCloseTo(norms[j], within(1e-5));
        }
        NDArray x = manager.randomNormal(new Shape(ROWS, IN));
        // at init m = ||W + s·B·A||, so DoRA equals LoRA
        float[] lora = LoraForwardTest.loraFormula(x.toFloatArray(), ROWS, IN, OUT, R, w, bias, a, b, S);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), lora)).isLessThan(1e-5);

        float[] m = perturbMagnitude();
        float[] actual = TestBlocks.forward(block, x).toFloatArray();
        assertThat(TestBlocks.maxAbsDiff(actual, doraFormula(x.toFloatArray(), a, b, m))).isLessThan(1e-5);
        assertThat(TestBlocks.maxAbsDiff(actual, lora)).isGreaterThan(1e-2); // the magnitude matters
        // training without dropout computes the same
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray training = block.forward(new ParameterStore(manager, false), new NDList(x), true).singletonOrThrow();
            assertThat(TestBlocks.maxAbsDiff(training.toFloatArray(), actual)).isLessThan(1e-6);
        }
    }

    @Test
    void gradientsReachTheMagnitudeAndTheMatricesButNotThroughTheNorm() {
        PeftModel peft = applyDora(0);
        float[] m = perturbMagnitude();
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        float[] a = state.get(KEY + "lora_A.weight").toFloatArray();
        float[] b = state.get(KEY + "lora_B.weight").toFloatArray();
        NDArray x = manager.randomNormal(new Shape(ROWS, IN));
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray y = block.forward(new ParameterStore(manager, false), new NDList(x), true).singletonOrThrow();
            collector.backward(y.sum());
        }
        float[] xs = x.toFloatArray();
        double[][] v = combined(w, a, b);
        double[] norms = rowNorms(v);
        // L = sum(y): dL/dm_j = sum_n (W + s·B·A)_j x_n / n_j; with the norm detached,
        // dL/dB[j, k] = m_j / n_j · s · sum_n (A x_n)_k, and nothing more
        float[] gradM = parameter("lora_magnitude_vector").getArray().getGradient().toFloatArray();
        float[] gradB = parameter("lora_B").getArray().getGradient().toFloatArray();
        float[] expectedM = new float[OUT];
        float[] expectedB = new float[OUT * R];
        for (int j = 0; j < OUT; j++) {
            double gm = 0;
            for (int n = 0; n < ROWS; n++) {
                for (int i = 0; i < IN; i++) {
                    gm += v[j][i] * xs[n * IN + i];
                }
            }
            expectedM[j] = (float) (gm / norms[j]);
            for (int k = 0; k < R; k++) {
                double ax = 0;
                for (int n = 0; n < ROWS; n++) {
                    for (int i = 0; i < IN; i++) {
                        ax += (double) a[k * IN + i] * xs[n * IN + i];
                    }
                }
                expectedB[j * R + k] = (float) (m[j] / norms[j] * S * ax);
            }
        }
        assertThat(TestBlocks.maxAbsDiff(gradM, expectedM)).isLessThan(1e-4);
        assertThat(TestBlocks.maxAbsDiff(gradB, expectedB)).isLessThan(1e-4);
        assertThat(parameter("weight").requiresGradient()).isFalse();
    }

    @Test
    void dropoutActsOnlyWhileTraining() {
        PeftModel peft = applyDora(0.5f);
        float[] m = perturbMagnitude();
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        NDArray x = manager.randomNormal(new Shape(ROWS, IN));
        float[] expected = doraFormula(x.toFloatArray(), state.get(KEY + "lora_A.weight").toFloatArray(),
                state.get(KEY + "lora_B.weight").toFloatArray(), m);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), expected)).isLessThan(1e-5);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray training = block.forward(new ParameterStore(manager, false), new NDList(x), true).singletonOrThrow();
            assertThat(TestBlocks.maxAbsDiff(training.toFloatArray(), expected)).isGreaterThan(1e-4);
        }
    }

    @Test
    void mergeWritesTheRescaledWeightAndUnmergeRestoresItBitForBit() {
        PeftModel peft = applyDora(0);
        float[] m = perturbMagnitude();
        Map<String, Tensor> state = peft.adapter("default").stateDict();
        float[] a = state.get(KEY + "lora_A.weight").toFloatArray();
        float[] b = state.get(KEY + "lora_B.weight").toFloatArray();
        NDArray x = manager.randomNormal(new Shape(ROWS, IN));
        float[] expected = doraFormula(x.toFloatArray(), a, b, m);

        peft.merge();
        assertThat(peft.isMerged()).isTrue();
        double[][] v = combined(w, a, b);
        double[] norms = rowNorms(v);
        float[] mergedWeight = new float[OUT * IN];
        for (int j = 0; j < OUT; j++) {
            for (int i = 0; i < IN; i++) {
                mergedWeight[j * IN + i] = (float) (m[j] / norms[j] * v[j][i]);
            }
        }
        assertThat(TestBlocks.maxAbsDiff(parameter("weight").getArray().toFloatArray(), mergedWeight)).isLessThan(1e-5);
        assertThat(parameter("bias").getArray().toFloatArray()).containsExactly(bias);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), expected)).isLessThan(1e-5);

        peft.unmerge();
        assertThat(parameter("weight").getArray().toFloatArray()).containsExactly(w);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), expected)).isLessThan(1e-5);

        // merged and unloaded: a plain Linear with the rescaled weight
        peft.mergeAndUnload();
        assertThat(block.getChildren().get(0).getValue()).isExactlyInstanceOf(Linear.class);
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), expected)).isLessThan(1e-5);
    }

    @Test
    void magnitudesSaveAndLoadExactly(@TempDir Path dir) throws Exception {
        PeftModel peft = applyDora(0);
        float[] m = perturbMagnitude();
        NDArray x = manager.randomNormal(new Shape(ROWS, IN));
        float[] before = TestBlocks.forward(block, x).toFloatArray();
        peft.saveAdapter(dir);
        AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
        assertThat(((LoraConfig) saved.config()).useDora()).isTrue();
        assertThat(saved.tensors().get(KEY + "lora_magnitude_vector").shape()).containsExactly(OUT);
        assertThat(saved.tensors().get(KEY + "lora_magnitude_vector").toFloatArray()).containsExactly(m);

        peft.unload();
        assertThat(TestBlocks.maxAbsDiff(TestBlocks.forward(block, x).toFloatArray(), before)).isGreaterThan(1e-2);
        PeftModel loaded = Peft.load(block, dir);
        assertThat(loaded.adapter("default").stateDict().get(KEY + "lora_magnitude_vector").toFloatArray()).containsExactly(m);
        assertThat(TestBlocks.forward(block, x).toFloatArray()).containsExactly(before);
    }

    @Test
    void anAdapterWithoutItsMagnitudesIsRefusedAndTheModelIsUnchanged(@TempDir Path dir) throws Exception {
        PeftModel peft = applyDora(0);
        peft.saveAdapter(dir);
        peft.unload();
        AdapterCheckpoint saved = AdapterCheckpoint.load(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>(saved.tensors());
        tensors.remove(KEY + "lora_magnitude_vector");
        assertThatThrownBy(() -> Peft.load(block, new AdapterCheckpoint(saved.config(), tensors, saved.metadata()), "dir"))
                .hasMessageContaining("module 0: the adapter has no tensor \"" + KEY + "lora_magnitude_vector\"");
        assertThat(block.getChildren().get(0).getValue()).isExactlyInstanceOf(Linear.class);
        assertThat(parameter("weight").getArray().toFloatArray()).containsExactly(w);
    }
}
