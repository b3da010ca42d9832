package org.peft4j.tribuo.lora;

import com.oracle.labs.mlrg.olcut.config.Config;
import com.oracle.labs.mlrg.olcut.config.PropertyException;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.nio.file.Path;
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
 * features] (and, if the bias setting is {@code all} or {@code lora_only}, a change of the bias)
 * trains; a factorization machine's factors stay as they were. It trains with one of Tribuo's gradient
 * optimisers on the base model's loss. {@link #train} returns a stock Tribuo model with the change
 * merged in (the default) or, with {@link #keepAdapterApart}, a {@link LoraSgdModel} that keeps the
 * base and the adapter apart.
 *
 * <p>The LoRA settings are the trainer's {@code @Config} fields, named as {@link LoraConfig}'s
 * components and Hugging Face PEFT's keys: {@code r}, {@code loraAlpha}, {@code useRslora},
 * {@code bias}, {@code initLoraWeights} (defaults as {@link LoraConfig}'s). They are the one source
 * of truth: {@link #config()} is derived from them in {@link #postConfig}, and the trained model's
 * provenance records them next to the base model's provenance. A {@link LoraConfig} given in code
 * is read into these fields: its {@code r} and {@code lora_alpha} for the module {@value
 * LoraSgdModel#MODULE} (after {@code rank_pattern} and {@code alpha_pattern}), {@code use_rslora},
 * {@code bias} and {@code init_lora_weights}; its other keys name nothing a linear model has.
 *
 * <p>From an OLCUT configuration file (see {@link AdaptedSgdTrainer} for {@code baseModel}):
 * <pre>{@code
 * <component name="tuner" type="org.peft4j.tribuo.lora.LoraSgdTrainer">
 *   <property name="baseModel" value="models/base.tribuo"/>
 *   <property name="r" value="2"/>
 *   <property name="loraAlpha" value="4"/>
 *   <property name="bias" value="ALL"/>
 *   <property name="epochs" value="10"/>
 * </component>
 * }</pre>
 *
 * <p>The config must target the module {@value LoraSgdModel#MODULE} (by name, or "all-linear").
 * {@code lora_dropout} must be 0 and {@code modules_to_save} empty: these models have no input
 * layer to drop out and no other module to save.
 *
 * @param <T> the output type
 */
public final class LoraSgdTrainer<T extends Output<T>> extends AdaptedSgdTrainer<T, LoraSgdTrainer<T>> {
    /** Hugging Face PEFT's defaults, as peft-api's {@link LoraConfig} holds them. */
    private static final LoraConfig DEFAULTS = LoraConfig.builder().setTargetModules(LoraSgdModel.MODULE).build();

    @Config(description = "The rank r of A [r, features] and B [outputs, r] (Hugging Face PEFT's r).")
    private int r = DEFAULTS.r();
    @Config(description = "The scaling numerator alpha: s = alpha / r, or alpha / sqrt(r) with rsLoRA (lora_alpha).")
    private float loraAlpha = DEFAULTS.loraAlpha();
    @Config(description = "Whether s = alpha / sqrt(r) (use_rslora).")
    private boolean useRslora = DEFAULTS.useRslora();
    @Config(description = "Which bias trains: NONE, ALL or LORA_ONLY (bias).")
    private LoraBias bias = DEFAULTS.bias();
    @Config(description = "How A and B start (init_lora_weights).")
    private LoraInit initLoraWeights = DEFAULTS.initLoraWeights();
    @Config(description = "Whether train() returns a stock model with the adapter merged in.")
    private boolean merge = true;

    /** Derived from the fields above by {@link #postConfig}. */
    private LoraConfig config;

    /** For OLCUT's configuration system. */
    private LoraSgdTrainer() {}

    /**
     * A LoRA trainer on {@code base}, a model in memory.
     *
     * @throws IllegalArgumentException if {@code base} is not a supported Tribuo SGD model, or the
     *     config does not fit one (wrong target, dropout, modules_to_save)
     */
    public LoraSgdTrainer(Model<T> base, LoraConfig config) {
        super(base);
        readSettings(config);
        postConfig();
    }

    /**
     * A LoRA trainer on the model in {@code baseModel} (a file written by Tribuo's
     * {@code Model.serializeToFile}), which its provenance records, so the trained models'
     * provenance rebuilds it.
     *
     * @param outputType the base model's output type
     * @throws IllegalArgumentException if the model is not a supported Tribuo SGD model of
     *     {@code outputType}, or the config does not fit one
     * @throws com.oracle.labs.mlrg.olcut.config.PropertyException if the file cannot be read
     */
    public LoraSgdTrainer(Path baseModel, Class<T> outputType, LoraConfig config) {
        super(baseModel);
        readSettings(config);
        postConfig();
        checkOutputType(outputType);
    }

    private void readSettings(LoraConfig config) {
        Objects.requireNonNull(config, "config");
        if (!config.isTargeted(LoraSgdModel.MODULE)) {
            throw new IllegalArgumentException("the LoRA config targets " + config.targetModules() + ", which matches no"
                    + " module of a Tribuo linear model; its only module is \"" + LoraSgdModel.MODULE + "\"");
        }
        if (config.loraDropout() != 0) {
            throw new IllegalArgumentException("lora_dropout must be 0 for a Tribuo linear model, got "
                    + config.loraDropout());
        }
        if (config.useDora()) {
            throw new IllegalArgumentException("use_dora is not supported for a Tribuo linear model; DoRA applies to"
                    + " DJL models (org.peft4j.djl)");
        }
        if (!config.modulesToSave().isEmpty()) {
            throw new IllegalArgumentException("modules_to_save must be empty for a Tribuo linear model (its only"
                    + " module is \"" + LoraSgdModel.MODULE + "\"), got " + config.modulesToSave());
        }
        this.r = config.rankFor(LoraSgdModel.MODULE);
        this.loraAlpha = config.alphaFor(LoraSgdModel.MODULE);
        this.useRslora = config.useRslora();
        this.bias = config.bias();
        this.initLoraWeights = config.initLoraWeights();
    }

    /**
     * Checks the settings, reads the base model if needed, and derives the {@link LoraConfig}.
     * Called by OLCUT after configuring, and by the constructors.
     *
     * @throws PropertyException naming the field if a setting is invalid
     */
    @Override
    public synchronized void postConfig() {
        super.postConfig();
        try {
            config = LoraConfig.builder().optR(r).optLoraAlpha(loraAlpha).optUseRslora(useRslora).optBias(bias)
                    .optInitLoraWeights(initLoraWeights).setTargetModules(LoraSgdModel.MODULE).build();
        } catch (IllegalArgumentException | NullPointerException e) {
            String field = bias == null ? "bias" : initLoraWeights == null ? "initLoraWeights" : r <= 0 ? "r" : "loraAlpha";
            throw new PropertyException(e, "", field, "LoraSgdTrainer: " + e.getMessage());
        }
    }

    /** The adapter's settings, derived from this trainer's {@code @Config} fields; targets {@value LoraSgdModel#MODULE}. */
    public LoraConfig config() {
        return config;
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
        Run run = startRun();
        SplittableRandom random = run.random();
        LoraParameters parameters = LoraParameters.initial(domain.baseWeights(), family.parameters(domain.baseWeights()),
                r, config.scalingFor(LoraSgdModel.MODULE), bias != LoraBias.NONE, initLoraWeights, random.split());
        fit(parameters, domain, data, random);
        String className = merge ? family.modelClassName() : LoraSgdModel.class.getName();
        return LoraSgdModel.of("lora(" + base.getName() + ")", provenance(className, data, runProvenance, run), base,
                config, objective, domain, parameters);
    }

    @Override
    public String toString() {
        return "LoraSgdTrainer(base=" + (baseModel == null ? base.getName() : baseModel) + ", r=" + r + ", alpha="
                + loraAlpha + ", bias=" + bias.jsonName() + ", optimiser=" + optimiser + ", epochs=" + epochs + ")";
    }
}
