package org.peft4j.api.prefix;

import java.util.Map;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.ModelDimensions;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethod;
import org.peft4j.api.PeftType;

/**
 * Prefix-tuning as a {@link PeftMethod}: {@code peft_type: PREFIX_TUNING},
 * {@link PrefixTuningConfig}, {@code finetuning_type: prefix}.
 */
public final class PrefixTuningMethod implements PeftMethod {
    /** Creates the method; {@link org.peft4j.api.PeftMethods} finds it as a service. */
    public PrefixTuningMethod() {}

    @Override
    public PeftType peftType() {
        return PeftType.PREFIX_TUNING;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return PrefixTuningConfig.class;
    }

    @Override
    public PeftConfig fromJson(ConfigFields f) {
        return new PrefixTuningConfig(
                f.requiredInt("num_virtual_tokens"), f.bool("prefix_projection", false),
                f.integer("encoder_hidden_size"), f.integer("token_dim"), f.integer("num_layers"),
                f.integer("num_attention_heads"), f.modulesToSave(), f.taskType(), f.baseModelNameOrPath(),
                f.inferenceMode());
    }

    @Override
    public void toJson(PeftConfig config, Map<String, Object> out) {
        PrefixTuningConfig c = (PrefixTuningConfig) config;
        out.put("num_virtual_tokens", c.numVirtualTokens());
        out.put("prefix_projection", c.prefixProjection());
        out.put("encoder_hidden_size", c.encoderHiddenSize());
        ModelDimensions.toJson(c.tokenDim(), c.numLayers(), c.numAttentionHeads(), out);
    }

    @Override
    public boolean isPromptLearning() {
        return true;
    }

    @Override
    public String finetuningType() {
        return "prefix";
    }

    @Override
    public double defaultLearningRate() {
        return 5e-4;
    }
}
