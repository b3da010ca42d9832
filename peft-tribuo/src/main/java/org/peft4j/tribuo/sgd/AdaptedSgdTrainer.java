package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.config.Config;
import com.oracle.labs.mlrg.olcut.config.PropertyException;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.io.IOException;
import java.nio.file.Path;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.Feature;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.Model;
import org.tribuo.Output;
import org.peft4j.tribuo.internal.CountingTrainer;
import org.peft4j.tribuo.io.ModelReader;
import org.tribuo.Trainer;
import org.tribuo.common.sgd.SGDObjective;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.StochasticGradientOptimiser;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseSparseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.SparseVector;
import org.tribuo.math.la.Tensor;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.math.util.HeapMerger;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.provenance.TrainerProvenance;

/**
 * The common part of trainers that continue from a pretrained Tribuo SGD model (linear or
 * factorization machine, see {@link SgdModelFamily}) on new data:
 * the domain is aligned by name ({@link AlignedDomain}), some parameters over the base weights
 * train with one of Tribuo's gradient optimisers on the base model's loss, and the result carries a
 * {@link ModelProvenance} whose instance values hold the base model's provenance under
 * {@value #BASE_MODEL_PROVENANCE}. The base model object is never changed.
 *
 * <p>The default optimiser is AdaGrad (learning rate 0.1). Tribuo 4.3's Adam mis-scales its
 * update (fixed on Tribuo's main branch after 4.3), so it is not the default; AdaGrad's per-weight
 * step sizes also suit sparse features, where rarely seen features need larger steps.
 *
 * <p>Configurable as Tribuo's own trainers are: every setting is a {@code @Config} field, so an
 * OLCUT configuration file can build the trainer and the trained model's provenance converts back
 * into a configuration that rebuilds it ({@code ProvenanceUtil.extractConfiguration}). The base
 * model is the {@code baseModel} field, a file that Tribuo's {@code Model.serializeToFile} wrote
 * (protobuf), read in {@link #postConfig} with {@link org.peft4j.tribuo.io.ModelReader}'s class
 * checks. A trainer built around a model in memory has no such file: it trains the same, but its
 * provenance cannot rebuild it; build it from the file when that matters.
 *
 * @param <T> the output type
 * @param <S> the trainer's own type, which the setters return
 */
public abstract class AdaptedSgdTrainer<T extends Output<T>, S extends AdaptedSgdTrainer<T, S>>
        extends CountingTrainer<T> {
    /** The key of the base model's provenance in the adapted model's instance provenance. */
    public static final String BASE_MODEL_PROVENANCE = "peft4j.base-model";
    private static final HeapMerger MERGER = new HeapMerger();

    @Config(description = "The pretrained model: a file written by Tribuo's Model.serializeToFile (protobuf). Unset"
            + " when the trainer was built around a model in memory.")
    protected Path baseModel;
    @Config(description = "The gradient optimiser.")
    protected StochasticGradientOptimiser optimiser = new AdaGrad(0.1);
    @Config(description = "The loss; by default the one the base model was most likely trained with.")
    protected SGDObjective<?> objective;
    @Config(description = "Passes over the new data.")
    protected int epochs = 5;
    @Config(description = "Examples per gradient step; their gradients are averaged.")
    protected int minibatchSize = 1;
    @Config(description = "The seed of the shuffling and of the adapter's initial values.")
    protected long seed = Trainer.DEFAULT_SEED;
    @Config(description = "Whether features the base model never saw are learned or ignored.")
    protected AlignedDomain.NewFeatures newFeatures = AlignedDomain.NewFeatures.LEARN;

    /** The pretrained model; kept as it is. Set by the constructor or read from {@link #baseModel}. */
    protected Model<T> base;
    /** How the base model's type scores, learns and is rebuilt; derived from {@link #base}. */
    protected SgdModelFamily<T> family;

    /** For OLCUT's configuration system, which sets the fields and then calls {@link #postConfig}. */
    protected AdaptedSgdTrainer() {}

    /**
     * Starts from {@code base}, a model in memory; the subclass's constructor calls
     * {@link #postConfig}.
     */
    protected AdaptedSgdTrainer(Model<T> base) {
        this.base = Objects.requireNonNull(base, "base");
    }

    /**
     * Starts from the model in {@code baseModel}, read by {@link #postConfig} (which the subclass's
     * constructor calls).
     */
    protected AdaptedSgdTrainer(Path baseModel) {
        this.baseModel = Objects.requireNonNull(baseModel, "baseModel");
    }

    /**
     * Checks the settings and derives what depends on them: reads the base model from
     * {@code baseModel} unless it was given in memory, and picks the default loss if none is set.
     * Called by OLCUT after configuring, and by the constructors.
     *
     * @throws PropertyException naming the field if a setting is invalid or the base model cannot be read
     */
    @Override
    public synchronized void postConfig() {
        if (epochs <= 0) {
            throw new PropertyException("", "epochs", getClass().getSimpleName() + ": epochs must be positive, got "
                    + epochs);
        }
        if (minibatchSize <= 0) {
            throw new PropertyException("", "minibatchSize", getClass().getSimpleName()
                    + ": minibatchSize must be positive, got " + minibatchSize);
        }
        if (optimiser == null || newFeatures == null) {
            throw new PropertyException("", optimiser == null ? "optimiser" : "newFeatures",
                    getClass().getSimpleName() + ": must be set");
        }
        if (base == null) {
            base = readBase();
        }
        try {
            family = SgdModelFamily.of(base);
        } catch (IllegalArgumentException e) {
            throw baseModel == null ? e : new PropertyException(e, "", "baseModel", baseModel + ": " + e.getMessage());
        }
        if (objective == null) {
            objective = family.defaultObjective(base);
        } else {
            try {
                family.checkObjective(objective);
            } catch (IllegalArgumentException e) {
                throw new PropertyException(e, "", "objective", e.getMessage());
            }
        }
    }

    @SuppressWarnings("unchecked")
    private Model<T> readBase() {
        if (baseModel == null) {
            throw new PropertyException("", "baseModel", getClass().getSimpleName() + " needs the pretrained model: set"
                    + " baseModel to a file written by Tribuo's Model.serializeToFile. (A trainer built around a"
                    + " model in memory records no file, so its provenance cannot rebuild it.)");
        }
        try {
            return (Model<T>) ModelReader.readProto(baseModel);
        } catch (IOException | IllegalArgumentException | IllegalStateException e) {
            throw new PropertyException(e, "", "baseModel", "cannot read the base model " + baseModel + ": "
                    + e.getMessage());
        }
    }

    /**
     * Checks that the base model predicts outputs of {@code outputType}.
     *
     * @throws IllegalArgumentException naming both types if it does not
     */
    protected void checkOutputType(Class<T> outputType) {
        if (!base.validate(outputType)) {
            throw new IllegalArgumentException("the base model " + (baseModel == null ? base.getName() : baseModel)
                    + " predicts " + base.getOutputIDInfo().getDomain().iterator().next().getClass().getName()
                    + ", not " + outputType.getName());
        }
    }

    /** Sets the gradient optimiser (default AdaGrad with learning rate 0.1); returns this trainer. */
    public S optimiser(StochasticGradientOptimiser optimiser) {
        this.optimiser = Objects.requireNonNull(optimiser, "optimiser");
        return self();
    }

    /** Sets the loss; it must suit the base model's output type. Returns this trainer. */
    public S objective(SGDObjective<?> objective) {
        family.checkObjective(objective);
        this.objective = objective;
        return self();
    }

    /** Sets the passes over the data (default 5); returns this trainer. */
    public S epochs(int epochs) {
        if (epochs <= 0) {
            throw new IllegalArgumentException("epochs must be positive, got " + epochs);
        }
        this.epochs = epochs;
        return self();
    }

    /** Sets the examples per gradient step (default 1, as Tribuo's trainers); returns this trainer. */
    public S minibatchSize(int minibatchSize) {
        if (minibatchSize <= 0) {
            throw new IllegalArgumentException("minibatchSize must be positive, got " + minibatchSize);
        }
        this.minibatchSize = minibatchSize;
        return self();
    }

    /** Sets the seed (default Tribuo's 12345); returns this trainer. */
    public S seed(long seed) {
        this.seed = seed;
        return self();
    }

    /** Sets the policy for features the base never saw (default: learn them); returns this trainer. */
    public S newFeatures(AlignedDomain.NewFeatures policy) {
        this.newFeatures = Objects.requireNonNull(policy, "policy");
        return self();
    }

    @SuppressWarnings("unchecked")
    private S self() {
        return (S) this;
    }

    /** The pretrained model this trainer starts from. */
    public Model<T> base() {
        return base;
    }

    /**
     * Aligns the base model with {@code data}'s domain.
     *
     * @throws IllegalArgumentException if the data's outputs are not of the base model's type
     */
    @SuppressWarnings("unchecked")
    protected AlignedDomain<T> align(Dataset<T> data) {
        Class<? extends Output<?>> dataType = (Class<? extends Output<?>>) data.getOutputFactory().getUnknownOutput()
                .getClass();
        if (!base.validate(dataType)) {
            throw new IllegalArgumentException("the data's outputs are " + dataType.getName() + ", but the base model "
                    + base.getName() + " predicts " + base.getOutputIDInfo().getDomain().iterator().next().getClass()
                    .getName());
        }
        List<org.tribuo.VariableInfo> features = new ArrayList<>();
        data.getFeatureMap().forEach(features::add);
        Set<T> outputs = new HashSet<>(data.getOutputInfo().getDomain());
        return AlignedDomain.align(base, family, features, outputs, newFeatures);
    }

    /**
     * What one call to train uses.
     *
     * @param random the call's random stream
     * @param trainerProvenance the trainer's provenance as the call starts (with the invocation count it uses)
     */
    protected record Run(SplittableRandom random, TrainerProvenance trainerProvenance) {}

    /**
     * Starts a call to train: records the provenance, then counts the call. The n-th call uses the
     * n-th split of the seed's stream, so a trainer rebuilt from a model's provenance and set to its
     * invocation count trains that model again.
     */
    protected synchronized Run startRun() {
        TrainerProvenance provenance = getProvenance();
        int invocation = nextInvocation();
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < invocation; i++) {
            random = random.split();
        }
        return new Run(random.split(), provenance);
    }

    /**
     * Runs minibatch SGD with a copy of the optimiser over {@code data} (vectors over
     * {@code domain}'s features, laid out as the model kind expects). A minibatch's gradients are
     * averaged and stepped with the mean example weight.
     *
     * <p>As in Tribuo's own trainers, an example that has every feature becomes a dense vector and
     * any other a sparse one; both hold the same entries, so the arithmetic is the same, but dense
     * vectors are read without index lookups and their gradients are dense matrices, summed in
     * place. When {@code parameters} has a frozen part ({@link FrozenScoreParameters}), each
     * example's frozen score is computed once, before the first epoch, if the stored scores take no
     * more memory than the feature vectors (otherwise at every step, with the same result), and a
     * minibatch's gradients are summed as they are computed.
     */
    protected void fit(FeedForwardParameters parameters, AlignedDomain<T> domain, Dataset<T> data,
            SplittableRandom random) {
        int n = data.size();
        if (n == 0) {
            throw new IllegalArgumentException("the dataset has no examples to adapt on");
        }
        Vectors layout = new Vectors(domain.features(), family.addsBiasFeature());
        SGDVector[] vectors = new SGDVector[n];
        double[] weights = new double[n];
        List<T> truths = new ArrayList<>(n);
        long activeElements = 0;
        int row = 0;
        for (Example<T> example : data) {
            vectors[row] = layout.vector(example);
            activeElements += vectors[row].numActiveElements();
            truths.add(example.getOutput());
            weights[row] = example.getWeight();
            row++;
        }
        SgdModelFamily.Targets targets = family.targets(objective, domain.outputs(), truths);
        FrozenScoreParameters split = parameters instanceof FrozenScoreParameters p ? p : null;
        int outputs = domain.outputs().size();
        long frozenSize = (long) n * outputs;
        double[] frozen = null;
        if (split != null && frozenSize <= activeElements && frozenSize <= Integer.MAX_VALUE - 8) {
            frozen = new double[(int) frozenSize];
            for (int i = 0; i < n; i++) {
                DenseVector score = split.frozenScore(vectors[i]);
                for (int o = 0; o < outputs; o++) {
                    frozen[i * outputs + o] = score.get(o);
                }
            }
        }
        StochasticGradientOptimiser local = optimiser.copy();
        local.initialise(parameters);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Tensor[][] gradients = split == null ? new Tensor[Math.min(minibatchSize, n)][] : null;
        for (int epoch = 0; epoch < epochs; epoch++) {
            shuffle(order, vectors, random);
            for (int from = 0; from < n; from += minibatchSize) {
                int size = Math.min(minibatchSize, n - from);
                double weight = 0;
                Tensor[] summed = null;
                for (int k = 0; k < size; k++) {
                    int i = order[from + k];
                    SGDVector x = vectors[from + k];
                    if (split == null) {
                        gradients[k] = parameters.gradients(targets.lossAndGradient(i, parameters.predict(x)), x);
                    } else {
                        DenseVector score = frozen == null ? split.frozenScore(x)
                                : new ArrayVector(Arrays.copyOfRange(frozen, i * outputs, (i + 1) * outputs));
                        summed = split.gradients(x, score, s -> targets.lossAndGradient(i, s), summed);
                    }
                    weight += weights[i];
                }
                Tensor[] step = split != null ? summed : size == 1 ? gradients[0] : sum(gradients, size);
                if (size > 1) {
                    for (Tensor t : step) {
                        t.scaleInPlace(1.0 / size);
                    }
                }
                parameters.update(local.step(step, weight / size));
            }
        }
        local.finalise();
    }

    /**
     * Lays examples out as Tribuo's trainers do: a dense vector when the example has every feature
     * of the domain, else {@code SparseVector.createSparseVector}'s vector, with Tribuo's bias entry
     * 1 after the features when the model kind has one. Both hold the same entries for an example
     * with every feature. Tribuo numbers features in name order and keeps an example's features in
     * name order, so the usual example is read in one pass; any other (features out of order or
     * repeated) goes through {@code createSparseVector}, which adds repeated values, and becomes
     * dense if it then has every entry.
     */
    private record Vectors(ImmutableFeatureMap domain, boolean bias) {
        <T extends Output<T>> SGDVector vector(Example<T> example) {
            int count = domain.size();
            if (example.size() >= count) {
                double[] values = new double[bias ? count + 1 : count];
                int present = 0;
                int last = -1;
                for (Feature f : example) {
                    int id = domain.getID(f.getName());
                    if (id < 0) {
                        continue;
                    }
                    if (id <= last) {
                        present = -1;
                        break;
                    }
                    last = id;
                    values[id] = f.getValue();
                    if (Double.isNaN(values[id])) {
                        throw new IllegalArgumentException("Example contained a NaN feature, " + f);
                    }
                    present++;
                }
                if (present == count) {
                    if (bias) {
                        values[count] = 1;
                    }
                    return new ArrayVector(values);
                }
            }
            SparseVector sparse = SparseVector.createSparseVector(example, domain, bias);
            return sparse.numActiveElements() == sparse.size() ? sparse.densify() : sparse;
        }
    }

    /** A dense vector over an array it takes as it is (Tribuo's public constructors copy or fill). */
    private static final class ArrayVector extends DenseVector {
        private static final long serialVersionUID = 1L;

        ArrayVector(double[] values) {
            super(values);
        }
    }

    /**
     * Sums the first {@code size} examples' gradients tensor by tensor, as Tribuo's parameters merge
     * them: dense tensors are added in example order into the first dense one, and sparse ones
     * (from sparse features) through Tribuo's {@link HeapMerger}, as {@code LinearParameters.merge}
     * does. (Tribuo 4.3.2's {@code FMParameters.merge} casts the wrong tensor when gradients are
     * sparse and fails, so this merge serves every model kind.)
     */
    private static Tensor[] sum(Tensor[][] gradients, int size) {
        Tensor[] sum = new Tensor[gradients[0].length];
        for (int t = 0; t < sum.length; t++) {
            int first = -1;
            for (int k = 0; k < size && first < 0; k++) {
                if (gradients[k][t] instanceof DenseMatrix || gradients[k][t] instanceof DenseVector) {
                    first = k;
                }
            }
            if (first < 0) {
                DenseSparseMatrix[] parts = new DenseSparseMatrix[size];
                for (int k = 0; k < size; k++) {
                    parts[k] = (DenseSparseMatrix) gradients[k][t];
                }
                sum[t] = MERGER.merge(parts);
                continue;
            }
            sum[t] = gradients[first][t];
            for (int k = 0; k < size; k++) {
                if (k != first) {
                    sum[t].intersectAndAddInPlace(gradients[k][t]);
                }
            }
        }
        return sum;
    }

    /**
     * Shuffles the example order and the vectors alike, so that an epoch reads the vectors array
     * front to back (as Tribuo's trainers do); the garbage collector then tends to lay the vectors
     * out in that order too, which keeps the reads cache-friendly.
     */
    private static void shuffle(int[] order, SGDVector[] vectors, SplittableRandom random) {
        for (int i = order.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
            SGDVector v = vectors[i];
            vectors[i] = vectors[j];
            vectors[j] = v;
        }
    }

    /** The provenance of a model trained on {@code data} in {@code run}, with the base model's inside. */
    protected ModelProvenance provenance(String modelClassName, Dataset<T> data, Map<String, Provenance> runProvenance,
            Run run) {
        Map<String, Provenance> instance = new HashMap<>(runProvenance);
        instance.put(BASE_MODEL_PROVENANCE, base.getProvenance());
        return new ModelProvenance(modelClassName, OffsetDateTime.now(), data.getProvenance(), run.trainerProvenance(),
                instance);
    }
}
