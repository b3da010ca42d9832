package org.peft4j.tribuo;

import java.nio.file.Path;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.tribuo.lora.LoraSgdTrainer;
import org.peft4j.tribuo.sgd.WarmStartTrainer;
import org.tribuo.Model;
import org.tribuo.Output;

/**
 * The entry point for Tribuo users: one call turns a pretrained Tribuo model into a
 * {@link org.tribuo.Trainer} that adapts it to new data.
 *
 * <pre>{@code
 * LoraConfig cfg = LoraConfig.builder().optR(2).optLoraAlpha(2).setTargetAllLinear().optBias(LoraBias.ALL).build();
 * Trainer<Label> tuner = TribuoPeft.lora(pretrainedModel, cfg);
 * Model<Label> tuned = tuner.train(newDomainData);   // provenance says what was adapted from what
 * }</pre>
 *
 * <p>The trainers are also OLCUT-configurable, as Tribuo's own: see {@link LoraSgdTrainer} and
 * {@link org.peft4j.tribuo.sgd.AdaptedSgdTrainer}. Read untrusted model files with {@link org.peft4j.tribuo.io.ModelReader}.
 */
public final class TribuoPeft {
    private TribuoPeft() {}

    /**
     * A LoRA trainer on a pretrained linear SGD model (classification, regression or multi-label).
     *
     * @throws IllegalArgumentException if the model is not a Tribuo linear SGD model or the config
     *     does not fit one
     */
    public static <T extends Output<T>> LoraSgdTrainer<T> lora(Model<T> pretrained, LoraConfig config) {
        return new LoraSgdTrainer<>(pretrained, config);
    }

    /**
     * A LoRA trainer on the pretrained model in {@code pretrainedFile} (written by Tribuo's
     * {@code Model.serializeToFile}, read with {@link org.peft4j.tribuo.io.ModelReader}'s class checks). The trainer's
     * provenance records the file, so the provenance of the models it trains rebuilds it.
     *
     * @param outputType the model's output type, such as {@code Label.class}
     * @throws IllegalArgumentException if the model is not a Tribuo linear SGD model of that type or
     *     the config does not fit one
     * @throws com.oracle.labs.mlrg.olcut.config.PropertyException if the file cannot be read
     */
    public static <T extends Output<T>> LoraSgdTrainer<T> lora(Path pretrainedFile, Class<T> outputType,
            LoraConfig config) {
        return new LoraSgdTrainer<>(pretrainedFile, outputType, config);
    }

    /** A trainer that fine-tunes every weight of a pretrained linear SGD model, starting from its own. */
    public static <T extends Output<T>> WarmStartTrainer<T> warmStart(Model<T> pretrained) {
        return new WarmStartTrainer<>(pretrained);
    }

    /**
     * A trainer that fine-tunes every weight of the pretrained model in {@code pretrainedFile}
     * (see {@link #lora(Path, Class, LoraConfig)}), starting from its own.
     *
     * @param outputType the model's output type, such as {@code Label.class}
     */
    public static <T extends Output<T>> WarmStartTrainer<T> warmStart(Path pretrainedFile, Class<T> outputType) {
        return new WarmStartTrainer<>(pretrainedFile, outputType);
    }
}
