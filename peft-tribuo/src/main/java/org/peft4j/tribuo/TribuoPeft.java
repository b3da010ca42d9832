package org.peft4j.tribuo;

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
 * LoraConfig cfg = LoraConfig.builder().rank(2).alpha(2).targetAllLinear().bias(LoraBias.ALL).build();
 * Trainer<Label> tuner = TribuoPeft.lora(pretrainedModel, cfg);
 * Model<Label> tuned = tuner.train(newDomainData);   // provenance says what was adapted from what
 * }</pre>
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

    /** A trainer that fine-tunes every weight of a pretrained linear SGD model, starting from its own. */
    public static <T extends Output<T>> WarmStartTrainer<T> warmStart(Model<T> pretrained) {
        return new WarmStartTrainer<>(pretrained);
    }
}
