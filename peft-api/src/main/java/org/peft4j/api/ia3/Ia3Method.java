package org.peft4j.api.ia3;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import java.util.Map;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethod;
import org.peft4j.api.PeftType;

/** (IA)³ as a {@link PeftMethod}: {@code peft_type: IA3}, {@link Ia3Config}, {@code finetuning_type: ia3}. */
public final class Ia3Method implements PeftMethod {
    /** Creates the method; {@link org.peft4j.api.PeftMethods} finds it as a service. */
    public Ia3Method() {}

    @Override
    public PeftType peftType() {
        return PeftType.IA3;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return Ia3Config.class;
    }

    /**
     * {@inheritDoc}
     *
     * <p>{@code target_modules} is required (PEFT writes the defaults it chose into every file);
     * {@code feedforward_modules} may be absent, null or empty, meaning none.
     */
    @Override
    public PeftConfig fromJson(ConfigFields f) {
        JsonNode feedforward = f.take("feedforward_modules");
        boolean none = feedforward == null || feedforward.isArray() && feedforward.isEmpty();
        return new Ia3Config(
                f.targetModules("target_modules", true),
                f.targetModules("exclude_modules", false),
                none ? null : f.targetModules("feedforward_modules", false),
                f.bool("fan_in_fan_out", false),
                f.bool("init_ia3_weights", true),
                f.modulesToSave(),
                f.taskType(),
                f.baseModelNameOrPath(),
                f.inferenceMode());
    }

    @Override
    public void toJson(PeftConfig config, Map<String, Object> out) {
        Ia3Config c = (Ia3Config) config;
        out.put("target_modules", c.targetModules().toJsonValue());
        out.put("exclude_modules", c.excludeModules() == null ? null : c.excludeModules().toJsonValue());
        // none is written as [], not null: PEFT would fill a null in with its defaults for the model type
        out.put("feedforward_modules", c.feedforwardModules() == null ? List.of() : c.feedforwardModules().toJsonValue());
        out.put("fan_in_fan_out", c.fanInFanOut());
        out.put("init_ia3_weights", c.initIa3Weights());
    }

    @Override
    public boolean isPromptLearning() {
        return false;
    }

    @Override
    public String finetuningType() {
        return "ia3";
    }

    /**
     * 3e-3: the rate the (IA)³ paper trained its vectors with (Liu et al. 2022, T-Few), between
     * LoRA's 2e-3 and prompt-tuning's 1e-2 here. The vectors are multiplicative and start at one,
     * so a step moves a layer's output by the step's relative size; the classifier head that trains
     * alongside (modules_to_save) is what limits the rate, as it does for prompt-tuning.
     */
    @Override
    public double defaultLearningRate() {
        return 3e-3;
    }
}
