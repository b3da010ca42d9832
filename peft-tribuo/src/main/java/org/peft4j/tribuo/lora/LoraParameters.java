package org.peft4j.tribuo.lora;

import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.tribuo.sgd.FrozenScoreParameters;
import org.peft4j.tribuo.sgd.SgdModelFamily;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.Tensor;
import org.tribuo.math.la.VectorTuple;
import org.tribuo.math.protos.ParametersProto;

/**
 * The trainable part of LoRA on a Tribuo SGD model's linear weights, in the form Tribuo's gradient
 * optimisers update: {@code get()} holds A [r, features], B [outputs, r] and, when the bias trains,
 * a bias change [outputs]. The base model's weights are held apart and never change; the score of a
 * feature vector x is base(x) + s·B·(A·x) + Δb, where base(x) is the base model's own score (W·x + b
 * for a linear model, plus the pairwise factor terms for a factorization machine) and A·x reads
 * only the feature entries of x (not Tribuo's bias entry).
 *
 * <p>Tribuo's optimisers expect {@code update} to add what they return, and its objectives return
 * the negative gradient of the loss, so the tensors from {@link #gradients(Pair, SGDVector)} point
 * downhill. The frozen part of the score ({@link FrozenScoreParameters}) is base(x), which the
 * trainer computes once per training example.
 */
final class LoraParameters implements FrozenScoreParameters {
    private static final long serialVersionUID = 1L;

    private final SgdModelFamily.Weights base;
    private final FeedForwardParameters baseScore;
    private final int features;
    private final double scaling;
    private final boolean trainBias;
    private Tensor[] weights;

    private LoraParameters(SgdModelFamily.Weights base, FeedForwardParameters baseScore, double scaling,
            boolean trainBias, Tensor[] weights) {
        this.base = base;
        this.baseScore = baseScore;
        this.features = base.linear().getDimension2Size();
        this.scaling = scaling;
        this.trainBias = trainBias;
        this.weights = weights;
    }

    /**
     * Starts an adapter on {@code base} as Hugging Face PEFT does: B = 0 (so the adapted model
     * scores as the base at first) and A kaiming-uniform or gaussian; {@link LoraInit#RANDOM}
     * draws B too.
     */
    static LoraParameters initial(SgdModelFamily.Weights base, FeedForwardParameters baseScore, int rank,
            double scaling, boolean trainBias, LoraInit init, SplittableRandom random) {
        if (init == LoraInit.PISSA || init == LoraInit.PISSA_NITER || init == LoraInit.OLORA) {
            throw new IllegalArgumentException("init_lora_weights " + init + " rewrites the base weights, which a Tribuo"
                    + " linear model keeps untouched; use KAIMING_UNIFORM, GAUSSIAN or RANDOM");
        }
        int outputs = base.linear().getDimension1Size();
        int features = base.linear().getDimension2Size();
        DenseMatrix a = new DenseMatrix(rank, features);
        DenseMatrix b = new DenseMatrix(outputs, rank);
        double boundA = 1 / Math.sqrt(Math.max(1, features));
        for (int k = 0; k < rank; k++) {
            for (int j = 0; j < features; j++) {
                a.set(k, j, init == LoraInit.GAUSSIAN ? random.nextGaussian() / rank : uniform(random, boundA));
            }
        }
        if (init == LoraInit.RANDOM) {
            double boundB = 1 / Math.sqrt(rank);
            for (int o = 0; o < outputs; o++) {
                for (int k = 0; k < rank; k++) {
                    b.set(o, k, uniform(random, boundB));
                }
            }
        }
        return of(base, baseScore, scaling, trainBias, a, b, trainBias ? new DenseVector(outputs) : null);
    }

    /**
     * Wraps given matrices; {@code biasChange} is null when the bias does not train.
     *
     * @param baseScore scores with {@code base} (Tribuo's parameters of the base model's kind)
     */
    static LoraParameters of(SgdModelFamily.Weights base, FeedForwardParameters baseScore, double scaling,
            boolean trainBias, DenseMatrix a, DenseMatrix b, DenseVector biasChange) {
        Tensor[] weights = trainBias ? new Tensor[] {a, b, biasChange} : new Tensor[] {a, b};
        return new LoraParameters(base, baseScore, scaling, trainBias, weights);
    }

    private static double uniform(SplittableRandom random, double bound) {
        return (2 * random.nextDouble() - 1) * bound;
    }

    DenseMatrix a() {
        return (DenseMatrix) weights[0];
    }

    DenseMatrix b() {
        return (DenseMatrix) weights[1];
    }

    /** The trained change of the bias, or null when the bias does not train. */
    DenseVector biasChange() {
        return trainBias ? (DenseVector) weights[2] : null;
    }

    /** Returns the base weights with W + s·B·A and b + Δb: the weights of the merged model. */
    SgdModelFamily.Weights merged() {
        DenseMatrix linear = new DenseMatrix(base.linear());
        DenseVector bias = base.bias().copy();
        DenseMatrix a = a();
        DenseMatrix b = b();
        for (int o = 0; o < linear.getDimension1Size(); o++) {
            for (int j = 0; j < features; j++) {
                double sum = 0;
                for (int k = 0; k < a.getDimension1Size(); k++) {
                    sum += b.get(o, k) * a.get(k, j);
                }
                linear.add(o, j, scaling * sum);
            }
            if (trainBias) {
                bias.add(o, biasChange().get(o));
            }
        }
        return new SgdModelFamily.Weights(linear, bias, base.factors());
    }

    /** A·x over the feature part of x (the bias entry is skipped), each sum taken in feature order. */
    private double[] down(SGDVector x) {
        DenseMatrix a = a();
        double[] u = new double[a.getDimension1Size()];
        if (x instanceof DenseVector) {
            for (int k = 0; k < u.length; k++) {
                double sum = 0;
                for (int j = 0; j < features; j++) {
                    sum += a.get(k, j) * x.get(j);
                }
                u[k] = sum;
            }
            return u;
        }
        for (VectorTuple t : x) {
            if (t.index < features) {
                for (int k = 0; k < u.length; k++) {
                    u[k] += a.get(k, t.index) * t.value;
                }
            }
        }
        return u;
    }

    /** Adds s·B·u + Δb to {@code score} (the frozen part of a score, u = A·x) and returns it. */
    private DenseVector addAdapter(DenseVector score, double[] u) {
        DenseMatrix b = b();
        for (int o = 0; o < score.size(); o++) {
            double up = 0;
            for (int k = 0; k < u.length; k++) {
                up += b.get(o, k) * u[k];
            }
            score.add(o, scaling * up + (trainBias ? biasChange().get(o) : 0));
        }
        return score;
    }

    /** The base model's own score of x: the frozen part of the adapted score. */
    @Override
    public DenseVector frozenScore(SGDVector x) {
        return baseScore.predict(x);
    }

    @Override
    public DenseVector predict(SGDVector x) {
        return addAdapter(baseScore.predict(x), down(x));
    }

    /**
     * With g the objective's negative gradient with respect to the score: s·g (A·x)ᵀ for B,
     * s·(Bᵀ·g) xᵀ for A, and g for the bias change.
     */
    @Override
    public Tensor[] gradients(Pair<Double, SGDVector> score, SGDVector x) {
        return gradients(score.getB(), x, down(x), null);
    }

    /** Scores x from its base score {@code frozen} and differentiates the loss there, computing A·x once for both. */
    @Override
    public Tensor[] gradients(SGDVector x, DenseVector frozen, Function<DenseVector, Pair<Double, SGDVector>> loss,
            Tensor[] sum) {
        double[] u = down(x);
        return gradients(loss.apply(addAdapter(frozen, u)).getB(), x, u, sum);
    }

    /**
     * The gradients for the score gradient g at x, with u = A·x: new tensors when {@code sum} is
     * null, else added to {@code sum}'s, entry by entry.
     */
    private Tensor[] gradients(SGDVector g, SGDVector x, double[] u, Tensor[] sum) {
        DenseMatrix b = b();
        int rank = u.length;
        int outputs = b.getDimension1Size();
        boolean add = sum != null;
        DenseMatrix gradA = add ? (DenseMatrix) sum[0] : new DenseMatrix(rank, features);
        DenseMatrix gradB = add ? (DenseMatrix) sum[1] : new DenseMatrix(outputs, rank);
        DenseVector gradBias = !trainBias ? null : add ? (DenseVector) sum[2] : new DenseVector(outputs);
        double[] v = new double[rank];
        for (VectorTuple t : g) {
            for (int k = 0; k < rank; k++) {
                v[k] += b.get(t.index, k) * t.value;
                double value = scaling * t.value * u[k];
                if (add) {
                    gradB.add(t.index, k, value);
                } else {
                    gradB.set(t.index, k, value);
                }
            }
            if (trainBias) {
                if (add) {
                    gradBias.add(t.index, t.value);
                } else {
                    gradBias.set(t.index, t.value);
                }
            }
        }
        if (x instanceof DenseVector) {
            for (int k = 0; k < rank; k++) {
                double sv = scaling * v[k];
                for (int j = 0; j < features; j++) {
                    if (add) {
                        gradA.add(k, j, sv * x.get(j));
                    } else {
                        gradA.set(k, j, sv * x.get(j));
                    }
                }
            }
        } else {
            for (VectorTuple t : x) {
                if (t.index < features) {
                    for (int k = 0; k < rank; k++) {
                        if (add) {
                            gradA.add(k, t.index, scaling * v[k] * t.value);
                        } else {
                            gradA.set(k, t.index, scaling * v[k] * t.value);
                        }
                    }
                }
            }
        }
        if (add) {
            return sum;
        }
        return trainBias ? new Tensor[] {gradA, gradB, gradBias} : new Tensor[] {gradA, gradB};
    }

    @Override
    public Tensor[] getEmptyCopy() {
        DenseMatrix a = a();
        DenseMatrix b = b();
        Tensor[] empty = {new DenseMatrix(a.getDimension1Size(), a.getDimension2Size()),
                new DenseMatrix(b.getDimension1Size(), b.getDimension2Size()), null};
        if (trainBias) {
            empty[2] = new DenseVector(b.getDimension1Size());
            return empty;
        }
        return new Tensor[] {empty[0], empty[1]};
    }

    @Override
    public Tensor[] get() {
        return weights;
    }

    @Override
    public void set(Tensor[] newWeights) {
        if (newWeights.length == weights.length) {
            weights = newWeights;
        }
    }

    @Override
    public void update(Tensor[] gradients) {
        for (int i = 0; i < gradients.length; i++) {
            weights[i].intersectAndAddInPlace(gradients[i]);
        }
    }

    /** Sums the first {@code size} gradients (all dense) into the first. */
    @Override
    public Tensor[] merge(Tensor[][] gradients, int size) {
        for (int i = 1; i < size; i++) {
            for (int t = 0; t < gradients[0].length; t++) {
                gradients[0][t].intersectAndAddInPlace(gradients[i][t]);
            }
        }
        return gradients[0];
    }

    @Override
    public LoraParameters copy() {
        Tensor[] copies = new Tensor[weights.length];
        copies[0] = new DenseMatrix(a());
        copies[1] = new DenseMatrix(b());
        if (trainBias) {
            copies[2] = biasChange().copy();
        }
        return new LoraParameters(base, baseScore, scaling, trainBias, copies);
    }

    /**
     * Not supported: these are training-time tensors. A trained adapter is kept by
     * {@link LoraSgdModel} (Tribuo's serialization) and by {@link LoraSgdModel#saveAdapter}.
     */
    @Override
    public ParametersProto serialize() {
        throw new UnsupportedOperationException("LoRA training parameters are not serialized on their own;"
                + " serialize the LoraSgdModel or save its adapter");
    }
}
