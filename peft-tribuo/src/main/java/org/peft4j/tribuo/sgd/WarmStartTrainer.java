package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.util.Map;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Output;
import org.tribuo.math.LinearParameters;
import org.tribuo.math.la.DenseMatrix;

/**
 * Full fine-tuning of a Tribuo linear SGD model: every weight trains, starting from the base
 * model's (a warm start), on new data. The baseline LoRA is measured against; it returns a stock
 * Tribuo model and leaves the base model as it was.
 *
 * @param <T> the output type
 */
public final class WarmStartTrainer<T extends Output<T>> extends AdaptedLinearTrainer<T, WarmStartTrainer<T>> {
    /**
     * Continues from {@code base}.
     *
     * @throws IllegalArgumentException if {@code base} is not a Tribuo linear SGD model
     */
    public WarmStartTrainer(Model<T> base) {
        super(base);
    }

    /** Trains every weight of a copy of the base model on {@code data}. */
    @Override
    public Model<T> train(Dataset<T> data, Map<String, Provenance> runProvenance) {
        AlignedDomain<T> domain = align(data);
        LinearParameters parameters = new LinearParameters(new DenseMatrix(domain.baseWeights()));
        fit(parameters, domain, data, nextRandom());
        return family.build(objective, "warm-start(" + base.getName() + ")",
                provenance(family.modelClassName(), data, runProvenance), domain.features(), domain.outputs(),
                parameters.getWeightMatrix());
    }

    /** The number of weights that train on {@code data}: every weight over its aligned domain. */
    public long trainableParameters(Dataset<T> data) {
        AlignedDomain<T> domain = align(data);
        return (long) domain.baseWeights().getDimension1Size() * domain.baseWeights().getDimension2Size();
    }

    @Override
    public String toString() {
        return "WarmStartTrainer(base=" + base.getName() + ", optimiser=" + optimiser + ", epochs=" + epochs + ")";
    }
}
