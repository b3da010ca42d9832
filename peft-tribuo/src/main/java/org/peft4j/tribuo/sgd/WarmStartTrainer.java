package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.util.Map;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Output;
import org.tribuo.math.FeedForwardParameters;

/**
 * Full fine-tuning of a Tribuo SGD model: every weight (for a factorization machine, the factors
 * too) trains on new data, starting from the base model's (a warm start). The baseline LoRA is measured against; it returns a stock
 * Tribuo model and leaves the base model as it was.
 *
 * @param <T> the output type
 */
public final class WarmStartTrainer<T extends Output<T>> extends AdaptedSgdTrainer<T, WarmStartTrainer<T>> {
    /**
     * Continues from {@code base}.
     *
     * @throws IllegalArgumentException if {@code base} is not a supported Tribuo SGD model
     */
    public WarmStartTrainer(Model<T> base) {
        super(base);
    }

    /** Trains every weight of a copy of the base model on {@code data}. */
    @Override
    public Model<T> train(Dataset<T> data, Map<String, Provenance> runProvenance) {
        AlignedDomain<T> domain = align(data);
        FeedForwardParameters parameters = family.parameters(domain.baseWeights());
        fit(parameters, domain, data, nextRandom());
        return family.build(objective, "warm-start(" + base.getName() + ")",
                provenance(family.modelClassName(), data, runProvenance), domain.features(), domain.outputs(),
                parameters);
    }

    /** The number of weights that train on {@code data}: every weight over its aligned domain. */
    public long trainableParameters(Dataset<T> data) {
        long count = 0;
        for (org.tribuo.math.la.Tensor t : family.parameters(align(data).baseWeights()).get()) {
            count += t.getShape().length == 1 ? t.getShape()[0] : (long) t.getShape()[0] * t.getShape()[1];
        }
        return count;
    }

    @Override
    public String toString() {
        return "WarmStartTrainer(base=" + base.getName() + ", optimiser=" + optimiser + ", epochs=" + epochs + ")";
    }
}
