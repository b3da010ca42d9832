package org.peft4j.tribuo.lora;

import com.oracle.labs.mlrg.olcut.config.Config;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.tribuo.sgd.AdaptedSgdTrainer;
import org.peft4j.tribuo.sgd.AlignedDomain;
import org.tribuo.Dataset;
import org.tribuo.Model;
import org.tribuo.Output;

/**
 * A Tribuo {@link org.tribuo.Trainer} that adapts a pretrained SGD model (linear, or a
 * factorization machine; see {@link org.peft4j.tribuo.sgd.SgdModelFamily}) to new data with LoRA:
 * the base weights stay frozen and a low-rank change s·B·A of the linear weights W [outputs,
 * features] (and, if the config's bias is {@code all} or {@code lora_only}, a change of the bias)
 * trains; a factorization machine's factors stay as they were. It trains with one of Tribuo's gradient
 * optimisers on the base model's loss. {@link #train} returns a stock Tribuo model with the change
 * merged in (the default) or, with {@link #keepAdapterApart}, a {@link LoraSgdModel} that keeps the
 * base and the adapter apart. The settings (rank, alpha, bias, ...) are {@code @Config} fields, so
 * the trained model's provenance records them next to the base model's provenance.
 *
 * <p>The config must target the module {@value LoraSgdModel#MODULE} (by name, or "all-linear").
 * {@code lora_dropout} must be 0 and {@code modules_to_save} empty: these models have no input
 * layer to drop out and no other module to save.
 *
 * @param <T> the output type
 */
public final class LoraSgdTrainer<T extends Output<T>> extends AdaptedSgdTrainer<T, LoraSgdTrainer<T>> {
    @Config(description = "The rank r of A [r, features] and B [outputs, r].")
    private int rank;
    @Config(description = "The scaling numerator alpha: s = alpha / r, or alpha / sqrt(r) with rsLoRA.")
    private float alpha;
    @Config(description = "Whether s = alpha / sqrt(r).")
    private boolean useRslora;
    @Config(description = "Which bias trains: none, all or lora_only.")
    private LoraBias bias;
    @Config(description = "How A and B start.")
    private LoraInit init;
    @Config(description = "Whether train() returns a stock model with the adapter merged in.")
    private boolean merge = true;

    private final LoraConfig config;

    /**
     * A LoRA trainer on {@code base}.
     *
     * @throws IllegalArgumentException if {@code base} is not a supported Tribuo SGD model, or the
     *     config does not fit one (wrong target, dropout, modules_to_save)
     */
    public LoraSgdTrainer(Model<T> base, LoraConfig config) {
        super(base);
        this.config = Objects.requireNonNull(config, "config");
        if (!config.isTargeted(LoraSgdModel.MODULE)) {
            throw new IllegalArgumentException("the LoRA config targets " + config.targetModules() + ", which matches no"
                    + " module of a Tribuo linear model; its only module is \"" + LoraSgdModel.MODULE + "\"");
        }
        if (config.loraDropout() != 0) {
            throw new IllegalArgumentException("lora_dropout must be 0 for a Tribuo linear model, got "
                    + config.loraDropout());
        }
        if (!config.modulesToSave().isEmpty()) {
            throw new IllegalArgumentException("modules_to_save must be empty for a Tribuo linear model (its only"
                    + " module is \"" + LoraSgdModel.MODULE + "\"), got " + config.modulesToSave());
        }
        this.rank = config.rankFor(LoraSgdModel.MODULE);
        this.alpha = config.alphaFor(LoraSgdModel.MODULE);
        this.useRslora = config.useRslora();
        this.bias = config.bias();
        this.init = config.initLoraWeights();
    }

    /** Makes {@link #train} return a {@link LoraSgdModel} (base and adapter apart); returns this trainer. */
    public LoraSgdTrainer<T> keepAdapterApart() {
        this.merge = false;
        return this;
    }

    /**
     * Trains the adapter on {@code data} and returns a stock model with it merged, or the
     * {@link LoraSgdModel} if {@link #keepAdapterApart} was called.
     */
    @Override
    public Model<T> train(Dataset<T> data, Map<String, Provenance> runProvenance) {
        LoraSgdModel<T> adapted = trainAdapter(data, runProvenance);
        return merge ? adapted.merge() : adapted;
    }

    /** Trains the adapter on {@code data} and returns it with the base, apart. */
    public LoraSgdModel<T> trainAdapter(Dataset<T> data) {
        return trainAdapter(data, Map.of());
    }

    /** Trains the adapter on {@code data} and returns it with the base, apart. */
    public LoraSgdModel<T> trainAdapter(Dataset<T> data, Map<String, Provenance> runProvenance) {
        AlignedDomain<T> domain = align(data);
        SplittableRandom random = nextRandom();
        LoraParameters parameters = LoraParameters.initial(domain.baseWeights(), family.parameters(domain.baseWeights()),
                rank,
                config.scalingFor(LoraSgdModel.MODULE), bias != LoraBias.NONE, init, random.split());
        fit(parameters, domain, data, random);
        String className = merge ? family.modelClassName() : LoraSgdModel.class.getName();
        return LoraSgdModel.of("lora(" + base.getName() + ")", provenance(className, data, runProvenance), base, config,
                objective, domain, parameters);
    }

    @Override
    public String toString() {
        return "LoraSgdTrainer(base=" + base.getName() + ", r=" + rank + ", alpha=" + alpha + ", bias=" + bias.jsonName()
                + ", optimiser=" + optimiser + ", epochs=" + epochs + ")";
    }
}
