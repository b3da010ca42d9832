package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import com.oracle.labs.mlrg.olcut.util.Pair;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Model;
import org.tribuo.Output;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.LabelObjective;
import org.tribuo.classification.sgd.objectives.Hinge;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.common.sgd.AbstractFMModel;
import org.tribuo.common.sgd.AbstractLinearSGDModel;
import org.tribuo.common.sgd.FMParameters;
import org.tribuo.common.sgd.SGDObjective;
import org.tribuo.math.FeedForwardParameters;
import org.tribuo.math.LinearParameters;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
import org.tribuo.math.la.Tensor;
import org.tribuo.math.optimisers.AdaGrad;
import org.tribuo.multilabel.MultiLabel;
import org.tribuo.multilabel.MultiLabelFactory;
import org.tribuo.multilabel.sgd.MultiLabelObjective;
import org.tribuo.multilabel.sgd.objectives.BinaryCrossEntropy;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.regression.Regressor;
import org.tribuo.regression.sgd.RegressionObjective;
import org.tribuo.regression.sgd.objectives.SquaredLoss;

/**
 * What differs between the Tribuo SGD models peft4j adapts, along two axes. The output type
 * (classification with {@link Label}, regression with {@link Regressor}, multi-label with
 * {@link MultiLabel}) sets the loss, the target of an output and the names of output dimensions.
 * The model kind (linear, or factorization machine) sets how the weights are read and laid out:
 * a linear model scores W·x + b, a factorization machine adds pairwise feature interactions through
 * per-output factor matrices [k, features]. Stock models are built by Tribuo's own trainers, so a
 * model built here is exactly the class Tribuo itself would have trained, with the same normalizer
 * or threshold.
 *
 * <p>Supported: {@code LinearSGDModel} of each output type, {@code FMClassificationModel},
 * {@code FMMultiLabelModel}, and {@code FMRegressionModel} trained without standardisation.
 *
 * @param <T> the output type
 */
public final class SgdModelFamily<T extends Output<T>> {
    private final Outputs<T> outputs;
    private final boolean factorizationMachine;

    private SgdModelFamily(Outputs<T> outputs, boolean factorizationMachine) {
        this.outputs = outputs;
        this.factorizationMachine = factorizationMachine;
    }

    /**
     * Returns the family of {@code model}.
     *
     * @throws IllegalArgumentException if the model is none of the supported ones
     */
    @SuppressWarnings("unchecked")
    public static <T extends Output<T>> SgdModelFamily<T> of(Model<T> model) {
        if (model instanceof org.tribuo.classification.sgd.linear.LinearSGDModel) {
            return (SgdModelFamily<T>) new SgdModelFamily<>(new Classification(), false);
        } else if (model instanceof org.tribuo.regression.sgd.linear.LinearSGDModel) {
            return (SgdModelFamily<T>) new SgdModelFamily<>(new Regression(), false);
        } else if (model instanceof org.tribuo.multilabel.sgd.linear.LinearSGDModel) {
            return (SgdModelFamily<T>) new SgdModelFamily<>(new MultiLabels(), false);
        } else if (model instanceof org.tribuo.classification.sgd.fm.FMClassificationModel) {
            return (SgdModelFamily<T>) new SgdModelFamily<>(new Classification(), true);
        } else if (model instanceof org.tribuo.multilabel.sgd.fm.FMMultiLabelModel) {
            return (SgdModelFamily<T>) new SgdModelFamily<>(new MultiLabels(), true);
        } else if (model instanceof org.tribuo.regression.sgd.fm.FMRegressionModel) {
            Provenance standardise = model.getProvenance().getTrainerProvenance().getConfiguredParameters()
                    .get("standardise");
            if (standardise == null || !standardise.toString().contains("false")) {
                throw new IllegalArgumentException("cannot adapt an FMRegressionModel trained with standardise=true (or"
                        + " with unknown provenance): its outputs are rescaled by the training data's statistics,"
                        + " which new data would change; train the base with standardise=false");
            }
            return (SgdModelFamily<T>) new SgdModelFamily<>(new Regression(), true);
        }
        throw new IllegalArgumentException("cannot adapt a " + (model == null ? "null model" : model.getClass().getName())
                + ": supported are Tribuo's SGD models: LinearSGDModel (classification, regression, multi-label),"
                + " FMClassificationModel, FMMultiLabelModel and FMRegressionModel (without standardisation)");
    }

    /** The class names of the supported models, which a serialized adapted model may hold as its base. */
    public static Set<String> supportedClassNames() {
        Set<String> names = new LinkedHashSet<>();
        for (Outputs<?> outputs : List.of(new Classification(), new Regression(), new MultiLabels())) {
            names.add(outputs.modelClass(false).getName());
            names.add(outputs.modelClass(true).getName());
        }
        return names;
    }

    /** Whether the model is a factorization machine rather than a linear model. */
    public boolean isFactorizationMachine() {
        return factorizationMachine;
    }

    /** Whether Tribuo's feature vectors for this kind carry a constant 1 after the features (the linear bias). */
    public boolean addsBiasFeature() {
        return !factorizationMachine;
    }

    /** The base model's weights: linear [outputs, features], bias [outputs], factors (FM only, else empty). */
    public record Weights(DenseMatrix linear, DenseVector bias, DenseMatrix[] factors) implements java.io.Serializable {}

    /** Returns a copy of {@code model}'s weights. */
    public Weights weights(Model<T> model) {
        if (factorizationMachine) {
            AbstractFMModel<T> fm = (AbstractFMModel<T>) model;
            Tensor[] factors = fm.getFactorsCopy();
            DenseMatrix[] matrices = new DenseMatrix[factors.length];
            for (int i = 0; i < factors.length; i++) {
                matrices[i] = (DenseMatrix) factors[i];
            }
            return new Weights(fm.getLinearWeightsCopy(), fm.getBiasesCopy(), matrices);
        }
        DenseMatrix w = ((AbstractLinearSGDModel<T>) model).getWeightsCopy();
        int features = w.getDimension2Size() - 1;
        DenseMatrix linear = new DenseMatrix(w.getDimension1Size(), features);
        DenseVector bias = new DenseVector(w.getDimension1Size());
        for (int o = 0; o < w.getDimension1Size(); o++) {
            for (int j = 0; j < features; j++) {
                linear.set(o, j, w.get(o, j));
            }
            bias.set(o, w.get(o, features));
        }
        return new Weights(linear, bias, new DenseMatrix[0]);
    }

    /** Tribuo's parameters holding {@code weights}, as a model of this kind stores and scores them. */
    public FeedForwardParameters parameters(Weights weights) {
        int outputs = weights.linear().getDimension1Size();
        int features = weights.linear().getDimension2Size();
        if (factorizationMachine) {
            int factors = weights.factors()[0].getDimension1Size();
            FMParameters fm = new FMParameters(new SplittableRandom(0), features, outputs, factors, 1.0);
            Tensor[] tensors = new Tensor[2 + outputs];
            tensors[0] = weights.bias().copy();
            tensors[1] = new DenseMatrix(weights.linear());
            for (int o = 0; o < outputs; o++) {
                tensors[2 + o] = new DenseMatrix(weights.factors()[o]);
            }
            fm.set(tensors);
            return fm;
        }
        DenseMatrix w = new DenseMatrix(outputs, features + 1);
        for (int o = 0; o < outputs; o++) {
            for (int j = 0; j < features; j++) {
                w.set(o, j, weights.linear().get(o, j));
            }
            w.set(o, features, weights.bias().get(o));
        }
        return new LinearParameters(w);
    }

    /** The class of the stock models of this family. */
    public String modelClassName() {
        return outputs.modelClass(factorizationMachine).getName();
    }

    /** Builds the stock Tribuo model that scores with {@code parameters} (from {@link #parameters}). */
    public Model<T> build(SGDObjective<?> objective, String name, ModelProvenance provenance,
            ImmutableFeatureMap features, ImmutableOutputInfo<T> outputInfo, FeedForwardParameters parameters) {
        return outputs.build(factorizationMachine, objective, name, provenance, features, outputInfo, parameters);
    }

    /**
     * The loss a base model of this family was most likely trained with, judged from whether it
     * produces probabilities: log-loss (softmax or sigmoid) if it does, hinge if it does not;
     * squared loss for regression.
     */
    public SGDObjective<?> defaultObjective(Model<T> base) {
        return outputs.defaultObjective(base.generatesProbabilities());
    }

    /** Checks that {@code objective} suits this family; throws naming the expected type otherwise. */
    public void checkObjective(SGDObjective<?> objective) {
        if (!outputs.objectiveType().isInstance(objective)) {
            throw new IllegalArgumentException("the objective must be a " + outputs.objectiveType().getName()
                    + " for this model, got " + (objective == null ? "null" : objective.getClass().getName()));
        }
    }

    /**
     * Checks, before anything is instantiated, that {@code type} is a loss class that suits this
     * family; throws naming the expected type otherwise.
     */
    public void checkObjectiveClass(Class<?> type) {
        if (!outputs.objectiveType().isAssignableFrom(type)) {
            throw new IllegalArgumentException("the objective must be a " + outputs.objectiveType().getName()
                    + " for this model, got " + type.getName());
        }
    }

    /**
     * The loss of a list of training examples, whose true outputs are converted once into what
     * {@code objective} reads (an output id, a target vector), as Tribuo's own trainers convert them
     * before the first epoch.
     */
    @FunctionalInterface
    public interface Targets {
        /**
         * Returns Tribuo's loss value of {@code prediction} for example {@code example}'s true output
         * and the negative gradient of the loss with respect to the prediction (the direction that
         * lowers the loss). The objective may overwrite {@code prediction}.
         */
        Pair<Double, SGDVector> lossAndGradient(int example, DenseVector prediction);
    }

    /** The targets of {@code truths} (outputs in {@code info}) under {@code objective}, in list order. */
    public Targets targets(SGDObjective<?> objective, ImmutableOutputInfo<T> info, List<T> truths) {
        return outputs.targets(objective, info, truths);
    }

    /** The name of output dimension {@code id}: a label, or a regression dimension's name. */
    public String dimensionName(ImmutableOutputInfo<T> info, int id) {
        return outputs.dimensionName(info, id);
    }

    /** An output with one dimension named {@code name}, to rebuild an output domain from names. */
    public T outputNamed(String name) {
        return outputs.outputNamed(name);
    }

    /** What depends on the output type only. */
    private abstract static class Outputs<T extends Output<T>> {
        abstract Class<?> modelClass(boolean fm);

        abstract Class<?> objectiveType();

        abstract SGDObjective<?> defaultObjective(boolean probabilistic);

        abstract Targets targets(SGDObjective<?> objective, ImmutableOutputInfo<T> info, List<T> truths);

        abstract Model<T> build(boolean fm, SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<T> outputs, FeedForwardParameters parameters);

        abstract String dimensionName(ImmutableOutputInfo<T> info, int id);

        abstract T outputNamed(String name);
    }

    private static final class Classification extends Outputs<Label> {
        @Override
        Class<?> modelClass(boolean fm) {
            return fm ? org.tribuo.classification.sgd.fm.FMClassificationModel.class
                    : org.tribuo.classification.sgd.linear.LinearSGDModel.class;
        }

        @Override
        Class<?> objectiveType() {
            return LabelObjective.class;
        }

        @Override
        SGDObjective<?> defaultObjective(boolean probabilistic) {
            return probabilistic ? new LogMulticlass() : new Hinge();
        }

        @Override
        Targets targets(SGDObjective<?> objective, ImmutableOutputInfo<Label> info, List<Label> truths) {
            LabelObjective loss = (LabelObjective) objective;
            int[] ids = truths.stream().mapToInt(info::getID).toArray();
            return (example, prediction) -> loss.lossAndGradient(ids[example], prediction);
        }

        @Override
        Model<Label> build(boolean fm, SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<Label> outputs, FeedForwardParameters parameters) {
            LabelObjective loss = (LabelObjective) objective;
            return fm ? new FmClassificationBuilder(loss).build(name, provenance, features, outputs, (FMParameters) parameters)
                    : new ClassificationBuilder(loss).build(name, provenance, features, outputs, (LinearParameters) parameters);
        }

        @Override
        String dimensionName(ImmutableOutputInfo<Label> info, int id) {
            return info.getOutput(id).getLabel();
        }

        @Override
        Label outputNamed(String name) {
            return new LabelFactory().generateOutput(name);
        }
    }

    private static final class Regression extends Outputs<Regressor> {
        @Override
        Class<?> modelClass(boolean fm) {
            return fm ? org.tribuo.regression.sgd.fm.FMRegressionModel.class
                    : org.tribuo.regression.sgd.linear.LinearSGDModel.class;
        }

        @Override
        Class<?> objectiveType() {
            return RegressionObjective.class;
        }

        @Override
        SGDObjective<?> defaultObjective(boolean probabilistic) {
            return new SquaredLoss();
        }

        @Override
        Targets targets(SGDObjective<?> objective, ImmutableOutputInfo<Regressor> info, List<Regressor> truths) {
            RegressionObjective loss = (RegressionObjective) objective;
            DenseVector[] targets = new DenseVector[truths.size()];
            for (int i = 0; i < targets.length; i++) {
                double[] target = new double[info.size()];
                for (Regressor.DimensionTuple dimension : truths.get(i)) {
                    target[info.getID(dimension)] = dimension.getValue();
                }
                targets[i] = DenseVector.createDenseVector(target);
            }
            return (example, prediction) -> loss.lossAndGradient(targets[example], prediction);
        }

        @Override
        Model<Regressor> build(boolean fm, SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<Regressor> outputs, FeedForwardParameters parameters) {
            RegressionObjective loss = (RegressionObjective) objective;
            return fm ? new FmRegressionBuilder(loss).build(name, provenance, features, outputs, (FMParameters) parameters)
                    : new RegressionBuilder(loss).build(name, provenance, features, outputs, (LinearParameters) parameters);
        }

        @Override
        String dimensionName(ImmutableOutputInfo<Regressor> info, int id) {
            return info.getOutput(id).getNames()[0];
        }

        @Override
        Regressor outputNamed(String name) {
            return new Regressor(name, Double.NaN);
        }
    }

    private static final class MultiLabels extends Outputs<MultiLabel> {
        @Override
        Class<?> modelClass(boolean fm) {
            return fm ? org.tribuo.multilabel.sgd.fm.FMMultiLabelModel.class
                    : org.tribuo.multilabel.sgd.linear.LinearSGDModel.class;
        }

        @Override
        Class<?> objectiveType() {
            return MultiLabelObjective.class;
        }

        @Override
        SGDObjective<?> defaultObjective(boolean probabilistic) {
            return probabilistic ? new BinaryCrossEntropy() : new org.tribuo.multilabel.sgd.objectives.Hinge();
        }

        @Override
        Targets targets(SGDObjective<?> objective, ImmutableOutputInfo<MultiLabel> info, List<MultiLabel> truths) {
            MultiLabelObjective loss = (MultiLabelObjective) objective;
            SGDVector[] targets = truths.stream().map(truth -> truth.convertToSparseVector(info)).toArray(SGDVector[]::new);
            return (example, prediction) -> loss.lossAndGradient(targets[example], prediction);
        }

        @Override
        Model<MultiLabel> build(boolean fm, SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<MultiLabel> outputs, FeedForwardParameters parameters) {
            MultiLabelObjective loss = (MultiLabelObjective) objective;
            return fm ? new FmMultiLabelBuilder(loss).build(name, provenance, features, outputs, (FMParameters) parameters)
                    : new MultiLabelBuilder(loss).build(name, provenance, features, outputs, (LinearParameters) parameters);
        }

        @Override
        String dimensionName(ImmutableOutputInfo<MultiLabel> info, int id) {
            return info.getOutput(id).getLabelString();
        }

        @Override
        MultiLabel outputNamed(String name) {
            return new MultiLabelFactory().generateOutput(name);
        }
    }

    // Tribuo's trainers build their models through a protected factory method; these subclasses
    // only call it, so the models come out exactly as Tribuo's own training would make them.

    private static final class ClassificationBuilder extends org.tribuo.classification.sgd.linear.LinearSGDTrainer {
        ClassificationBuilder(LabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<Label> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Label> outputs, LinearParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }

    private static final class RegressionBuilder extends org.tribuo.regression.sgd.linear.LinearSGDTrainer {
        RegressionBuilder(RegressionObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<Regressor> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Regressor> outputs, LinearParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }

    private static final class MultiLabelBuilder extends org.tribuo.multilabel.sgd.linear.LinearSGDTrainer {
        MultiLabelBuilder(MultiLabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<MultiLabel> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<MultiLabel> outputs, LinearParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }

    // The factor count and variance given here only seed training, which these builders never run.

    private static final class FmClassificationBuilder extends org.tribuo.classification.sgd.fm.FMClassificationTrainer {
        FmClassificationBuilder(LabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1, 1, 1L, 1, 1.0);
        }

        Model<Label> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Label> outputs, FMParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }

    private static final class FmRegressionBuilder extends org.tribuo.regression.sgd.fm.FMRegressionTrainer {
        FmRegressionBuilder(RegressionObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1, 1, 1L, 1, 1.0, false);
        }

        Model<Regressor> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Regressor> outputs, FMParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }

    private static final class FmMultiLabelBuilder extends org.tribuo.multilabel.sgd.fm.FMMultiLabelTrainer {
        FmMultiLabelBuilder(MultiLabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1, 1, 1L, 1, 1.0);
        }

        Model<MultiLabel> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<MultiLabel> outputs, FMParameters parameters) {
            return createModel(name, provenance, features, outputs, parameters);
        }
    }
}
