package org.peft4j.api.prompt;

import java.util.Map;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.ModelDimensions;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethod;
import org.peft4j.api.PeftType;

/**
 * Prompt-tuning as a {@link PeftMethod}: {@code peft_type: PROMPT_TUNING},
 * {@link PromptTuningConfig}, {@code finetuning_type: prompt}.
 */
public final class PromptTuningMethod implements PeftMethod {
    /** Creates the method; {@link org.peft4j.api.PeftMethods} finds it as a service. */
    public PromptTuningMethod() {}

    @Override
    public PeftType peftType() {
        return PeftType.PROMPT_TUNING;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return PromptTuningConfig.class;
    }

    @Override
    public PeftConfig fromJson(ConfigFields f) {
        return new PromptTuningConfig(
                f.requiredInt("num_virtual_tokens"),
                f.enumValue("prompt_tuning_init", PromptTuningInit.class, PromptTuningInit.RANDOM),
                f.string("prompt_tuning_init_text"), f.string("tokenizer_name_or_path"),
                f.integer("token_dim"), f.integer("num_layers"), f.integer("num_attention_heads"),
                f.modulesToSave(), f.taskType(), f.baseModelNameOrPath(), f.inferenceMode());
    }

    @Override
    public void toJson(PeftConfig config, Map<String, Object> out) {
        PromptTuningConfig c = (PromptTuningConfig) config;
        out.put("num_virtual_tokens", c.numVirtualTokens());
        out.put("prompt_tuning_init", c.promptTuningInit().name());
        out.put("prompt_tuning_init_text", c.promptTuningInitText());
        out.put("tokenizer_name_or_path", c.tokenizerNameOrPath());
        ModelDimensions.toJson(c.tokenDim(), c.numLayers(), c.numAttentionHeads(), out);
    }

    @Override
    public boolean isPromptLearning() {
        return true;
    }

    @Override
    public String finetuningType() {
        return "prompt";
    }

    /** 1e-2: with a new classification head and pooler alongside, 3e-2 diverged on the bundled model. */
    @Override
    public double defaultLearningRate() {
        return 1e-2;
    }
}
