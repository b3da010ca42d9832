package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.util.Pair;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Model;
import org.tribuo.Output;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.classification.sgd.LabelObjective;
import org.tribuo.classification.sgd.objectives.Hinge;
import org.tribuo.classification.sgd.objectives.LogMulticlass;
import org.tribuo.common.sgd.AbstractLinearSGDModel;
import org.tribuo.common.sgd.SGDObjective;
import org.tribuo.math.LinearParameters;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.math.la.SGDVector;
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
 * What differs between Tribuo's three linear SGD model types (classification with {@link Label},
 * regression with {@link Regressor}, multi-label with {@link MultiLabel}): the loss, the target
 * vector of an output, the name of an output dimension, and how a stock model is built from a
 * weight matrix. Stock models are built by Tribuo's own trainers, so a model built here is exactly
 * the class Tribuo itself would have trained, with the same normalizer or threshold.
 *
 * @param <T> the output type
 */
public abstract class LinearModelFamily<T extends Output<T>> {
    private LinearModelFamily() {}

    /**
     * Returns the family of {@code model}.
     *
     * @throws IllegalArgumentException if the model is not one of Tribuo's linear SGD models
     */
    @SuppressWarnings("unchecked")
    public static <T extends Output<T>> LinearModelFamily<T> of(Model<T> model) {
        if (model instanceof org.tribuo.classification.sgd.linear.LinearSGDModel) {
            return (LinearModelFamily<T>) new Classification();
        } else if (model instanceof org.tribuo.regression.sgd.linear.LinearSGDModel) {
            return (LinearModelFamily<T>) new Regression();
        } else if (model instanceof org.tribuo.multilabel.sgd.linear.LinearSGDModel) {
            return (LinearModelFamily<T>) new MultiLabelFamily();
        }
        throw new IllegalArgumentException("cannot adapt a " + (model == null ? "null model" : model.getClass().getName())
                + ": supported are Tribuo's linear SGD models (org.tribuo.classification.sgd.linear.LinearSGDModel,"
                + " org.tribuo.regression.sgd.linear.LinearSGDModel, org.tribuo.multilabel.sgd.linear.LinearSGDModel)");
    }

    /** Returns a copy of the model's weights, [outputs, features + 1] with the bias in the last column. */
    public DenseMatrix weights(Model<T> model) {
        return ((AbstractLinearSGDModel<T>) model).getWeightsCopy();
    }

    /**
     * The loss a base model of this family was most likely trained with, judged from whether it
     * produces probabilities: log-loss (softmax or sigmoid) if it does, hinge if it does not;
     * squared loss for regression.
     */
    public abstract SGDObjective<?> defaultObjective(Model<T> base);

    /** Checks that {@code objective} suits this family; throws naming the expected type otherwise. */
    public abstract void checkObjective(SGDObjective<?> objective);

    /**
     * Returns the loss of {@code prediction} for the true output and the negative gradient of the
     * loss with respect to the prediction (Tribuo's convention: the direction that lowers the loss).
     */
    public abstract Pair<Double, SGDVector> lossAndGradient(SGDObjective<?> objective, ImmutableOutputInfo<T> info,
            T truth, DenseVector prediction);

    /** Builds the stock Tribuo model that scores with {@code weights} ([outputs, features + 1], bias last). */
    public abstract Model<T> build(SGDObjective<?> objective, String name, ModelProvenance provenance,
            ImmutableFeatureMap features, ImmutableOutputInfo<T> outputs, DenseMatrix weights);

    /** The class of the stock models of this family. */
    public abstract String modelClassName();

    /** The name of output dimension {@code id}: a label, or a regression dimension's name. */
    public abstract String dimensionName(ImmutableOutputInfo<T> info, int id);

    /** An output with one dimension named {@code name}, to rebuild an output domain from names. */
    public abstract T outputNamed(String name);

    private static final class Classification extends LinearModelFamily<Label> {
        @Override
        public String modelClassName() {
            return org.tribuo.classification.sgd.linear.LinearSGDModel.class.getName();
        }

        @Override
        public SGDObjective<?> defaultObjective(Model<Label> base) {
            return base.generatesProbabilities() ? new LogMulticlass() : new Hinge();
        }

        @Override
        public void checkObjective(SGDObjective<?> objective) {
            require(objective, LabelObjective.class);
        }

        @Override
        public Pair<Double, SGDVector> lossAndGradient(SGDObjective<?> objective, ImmutableOutputInfo<Label> info,
                Label truth, DenseVector prediction) {
            return ((LabelObjective) objective).lossAndGradient(info.getID(truth), prediction);
        }

        @Override
        public Model<Label> build(SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<Label> outputs, DenseMatrix weights) {
            return new ClassificationBuilder((LabelObjective) objective).build(name, provenance, features, outputs, weights);
        }

        @Override
        public String dimensionName(ImmutableOutputInfo<Label> info, int id) {
            return info.getOutput(id).getLabel();
        }

        @Override
        public Label outputNamed(String name) {
            return new LabelFactory().generateOutput(name);
        }
    }

    private static final class Regression extends LinearModelFamily<Regressor> {
        @Override
        public String modelClassName() {
            return org.tribuo.regression.sgd.linear.LinearSGDModel.class.getName();
        }

        @Override
        public SGDObjective<?> defaultObjective(Model<Regressor> base) {
            return new SquaredLoss();
        }

        @Override
        public void checkObjective(SGDObjective<?> objective) {
            require(objective, RegressionObjective.class);
        }

        @Override
        public Pair<Double, SGDVector> lossAndGradient(SGDObjective<?> objective, ImmutableOutputInfo<Regressor> info,
                Regressor truth, DenseVector prediction) {
            double[] target = new double[info.size()];
            for (Regressor.DimensionTuple dimension : truth) {
                target[info.getID(dimension)] = dimension.getValue();
            }
            return ((RegressionObjective) objective).lossAndGradient(DenseVector.createDenseVector(target), prediction);
        }

        @Override
        public Model<Regressor> build(SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<Regressor> outputs, DenseMatrix weights) {
            return new RegressionBuilder((RegressionObjective) objective).build(name, provenance, features, outputs, weights);
        }

        @Override
        public String dimensionName(ImmutableOutputInfo<Regressor> info, int id) {
            return info.getOutput(id).getNames()[0];
        }

        @Override
        public Regressor outputNamed(String name) {
            return new Regressor(name, Double.NaN);
        }
    }

    private static final class MultiLabelFamily extends LinearModelFamily<MultiLabel> {
        @Override
        public String modelClassName() {
            return org.tribuo.multilabel.sgd.linear.LinearSGDModel.class.getName();
        }

        @Override
        public SGDObjective<?> defaultObjective(Model<MultiLabel> base) {
            return base.generatesProbabilities() ? new BinaryCrossEntropy()
                    : new org.tribuo.multilabel.sgd.objectives.Hinge();
        }

        @Override
        public void checkObjective(SGDObjective<?> objective) {
            require(objective, MultiLabelObjective.class);
        }

        @Override
        public Pair<Double, SGDVector> lossAndGradient(SGDObjective<?> objective, ImmutableOutputInfo<MultiLabel> info,
                MultiLabel truth, DenseVector prediction) {
            return ((MultiLabelObjective) objective).lossAndGradient(truth.convertToSparseVector(info), prediction);
        }

        @Override
        public Model<MultiLabel> build(SGDObjective<?> objective, String name, ModelProvenance provenance,
                ImmutableFeatureMap features, ImmutableOutputInfo<MultiLabel> outputs, DenseMatrix weights) {
            return new MultiLabelBuilder((MultiLabelObjective) objective).build(name, provenance, features, outputs, weights);
        }

        @Override
        public String dimensionName(ImmutableOutputInfo<MultiLabel> info, int id) {
            return info.getOutput(id).getLabelString();
        }

        @Override
        public MultiLabel outputNamed(String name) {
            return new MultiLabelFactory().generateOutput(name);
        }
    }

    private static void require(SGDObjective<?> objective, Class<?> type) {
        if (!type.isInstance(objective)) {
            throw new IllegalArgumentException("the objective must be a " + type.getName() + " for this model, got "
                    + (objective == null ? "null" : objective.getClass().getName()));
        }
    }

    // Tribuo's trainers build their models through a protected factory method; these subclasses
    // only call it, so the models come out exactly as Tribuo's own training would make them.

    private static final class ClassificationBuilder extends org.tribuo.classification.sgd.linear.LinearSGDTrainer {
        ClassificationBuilder(LabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<Label> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Label> outputs, DenseMatrix weights) {
            return createModel(name, provenance, features, outputs, new LinearParameters(weights));
        }
    }

    private static final class RegressionBuilder extends org.tribuo.regression.sgd.linear.LinearSGDTrainer {
        RegressionBuilder(RegressionObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<Regressor> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<Regressor> outputs, DenseMatrix weights) {
            return createModel(name, provenance, features, outputs, new LinearParameters(weights));
        }
    }

    private static final class MultiLabelBuilder extends org.tribuo.multilabel.sgd.linear.LinearSGDTrainer {
        MultiLabelBuilder(MultiLabelObjective objective) {
            super(objective, new AdaGrad(1.0), 1, 1L);
        }

        Model<MultiLabel> build(String name, ModelProvenance provenance, ImmutableFeatureMap features,
                ImmutableOutputInfo<MultiLabel> outputs, DenseMatrix weights) {
            return createModel(name, provenance, features, outputs, new LinearParameters(weights));
        }
    }
}
