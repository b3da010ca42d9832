package org.peft4j.tribuo.sgd;

import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.nio.file.Path;
import java.util.Map;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Output;
import org.tribuo.math.FeedForwardParameters;

/**
 * Full fine-tuning of a Tribuo SGD model: every weight (for a factorization machine, the factors
 * too) trains on new data, starting from the base model's (a warm start). The baseline LoRA is
 * measured against; it returns a stock Tribuo model and leaves the base model as it was. Its
 * settings are {@link AdaptedSgdTrainer}'s {@code @Config} fields, so an OLCUT configuration file
 * can build it (component type {@code org.peft4j.tribuo.sgd.WarmStartTrainer}, with {@code baseModel}
 * and any of the settings).
 *
 * @param <T> the output type
 */
public final class WarmStartTrainer<T extends Output<T>> extends AdaptedSgdTrainer<T, WarmStartTrainer<T>> {
    /** For OLCUT's configuration system. */
    private WarmStartTrainer() {}

    /**
     * Continues from {@code base}, a model in memory.
     *
     * @throws IllegalArgumentException if {@code base} is not a supported Tribuo SGD model
     */
    public WarmStartTrainer(Model<T> base) {
        super(base);
        postConfig();
    }

    /**
     * Continues from the model in {@code baseModel} (a file written by Tribuo's
     * {@code Model.serializeToFile}), which its provenance records.
     *
     * @param outputType the base model's output type
     * @throws IllegalArgumentException if the model is not a supported Tribuo SGD model of {@code outputType}
     * @throws com.oracle.labs.mlrg.olcut.config.PropertyException if the file cannot be read
     */
    public WarmStartTrainer(Path baseModel, Class<T> outputType) {
        super(baseModel);
        postConfig();
        checkOutputType(outputType);
    }

    /** Trains every weight of a copy of the base model on {@code data}. */
    @Override
    public Model<T> train(Dataset<T> data, Map<String, Provenance> runProvenance) {
        AlignedDomain<T> domain = align(data);
        FeedForwardParameters parameters = family.parameters(domain.baseWeights());
        Run run = startRun();
        fit(parameters, domain, data, run.random());
        return family.build(objective, "warm-start(" + base.getName() + ")",
                provenance(family.modelClassName(), data, runProvenance, run), domain.features(), domain.outputs(),
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
        return "WarmStartTrainer(base=" + (baseModel == null ? base.getName() : baseModel) + ", optimiser=" + optimiser + ", epochs=" + epochs + ")";
    }
}
