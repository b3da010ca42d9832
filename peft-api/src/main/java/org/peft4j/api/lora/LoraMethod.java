package org.peft4j.api.lora;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethod;
import org.peft4j.api.PeftType;
import org.peft4j.api.internal.Excerpt;

/** LoRA as a {@link PeftMethod}: {@code peft_type: LORA}, {@link LoraConfig}, {@code finetuning_type: lora}. */
public final class LoraMethod implements PeftMethod {
    /** PEFT's {@code pissa_niter_N}. */
    private static final Pattern PISSA_NITER = Pattern.compile("pissa_niter_[0-9]+");

    /** Creates the method; {@link org.peft4j.api.PeftMethods} finds it as a service. */
    public LoraMethod() {}

    @Override
    public PeftType peftType() {
        return PeftType.LORA;
    }

    @Override
    public Class<? extends PeftConfig> configClass() {
        return LoraConfig.class;
    }

    @Override
    public PeftConfig fromJson(ConfigFields f) {
        JsonNode init = f.take("init_lora_weights");
        LoraInit loraInit;
        int pissaNiter = 0;
        if (init == null || init.isNull() || init.isBoolean() && init.booleanValue()) {
            loraInit = LoraInit.KAIMING_UNIFORM;
        } else if (init.isBoolean()) {
            loraInit = LoraInit.RANDOM;
        } else if (init.isTextual() && init.asText().equals("gaussian")) {
            loraInit = LoraInit.GAUSSIAN;
        } else if (init.isTextual() && init.asText().equals("pissa")) {
            loraInit = LoraInit.PISSA;
        } else if (init.isTextual() && init.asText().equals("olora")) {
            loraInit = LoraInit.OLORA;
        } else if (init.isTextual() && PISSA_NITER.matcher(init.asText()).matches()) {
            loraInit = LoraInit.PISSA_NITER;
            try {
                pissaNiter = Integer.parseInt(init.asText().substring("pissa_niter_".length()));
            } catch (NumberFormatException e) {
                throw f.error("init_lora_weights", "the N of \"pissa_niter_N\" does not fit an int", init);
            }
        } else {
            throw f.error("init_lora_weights", "expected true, false, \"gaussian\", \"pissa\", \"pissa_niter_N\" or"
                    + " \"olora\" (other schemes are not supported)", init);
        }
        Map<String, Integer> rankPattern = new LinkedHashMap<>();
        f.objectEntries("rank_pattern").forEach((k, v) -> rankPattern.put(k, f.asInt("rank_pattern." + Excerpt.quote(k), v)));
        Map<String, Float> alphaPattern = new LinkedHashMap<>();
        f.objectEntries("alpha_pattern").forEach((k, v) -> alphaPattern.put(k, f.asFloat("alpha_pattern." + Excerpt.quote(k), v)));
        return new LoraConfig(
                f.requiredInt("r"),
                f.asFloat("lora_alpha", f.required("lora_alpha")),
                f.floatValue("lora_dropout", 0f),
                f.targetModules("target_modules", true),
                f.targetModules("exclude_modules", false),
                f.bool("use_rslora", false),
                LoraBias.fromJsonName(f.stringOr("bias", "none")),
                loraInit,
                rankPattern,
                alphaPattern,
                f.modulesToSave(),
                f.taskType(),
                f.baseModelNameOrPath(),
                f.inferenceMode(),
                pissaNiter,
                f.bool("use_dora", false),
                f.bool("fan_in_fan_out", false));
    }

    @Override
    public void toJson(PeftConfig config, Map<String, Object> out) {
        LoraConfig c = (LoraConfig) config;
        out.put("r", c.r());
        out.put("lora_alpha", number(c.loraAlpha()));
        out.put("lora_dropout", (double) c.loraDropout());
        out.put("target_modules", c.targetModules().toJsonValue());
        if (c.excludeModules() != null) {
            out.put("exclude_modules", c.excludeModules().toJsonValue());
        }
        out.put("use_rslora", c.useRslora());
        out.put("bias", c.bias().jsonName());
        out.put("init_lora_weights", initJson(c));
        Map<String, Object> alphas = new LinkedHashMap<>();
        c.alphaPattern().forEach((k, v) -> alphas.put(k, number(v)));
        out.put("rank_pattern", c.rankPattern());
        out.put("alpha_pattern", alphas);
        out.put("fan_in_fan_out", c.fanInFanOut());
        out.put("use_dora", c.useDora());
        out.put("layers_to_transform", null);
        out.put("layers_pattern", null);
    }

    /** The value of {@code init_lora_weights}, in PEFT's spellings. */
    private static Object initJson(LoraConfig c) {
        switch (c.initLoraWeights()) {
            case GAUSSIAN:
                return "gaussian";
            case PISSA:
                return "pissa";
            case PISSA_NITER:
                return "pissa_niter_" + c.pissaNiter();
            case OLORA:
                return "olora";
            default:
                return c.initLoraWeights() == LoraInit.KAIMING_UNIFORM;
        }
    }

    /** A float that holds an integer as an integer (16, not 16.0), as Python configs write it. */
    private static Object number(float v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? (Object) (long) v : (Object) (double) v;
    }

    @Override
    public boolean isPromptLearning() {
        return false;
    }

    @Override
    public String finetuningType() {
        return "lora";
    }

    @Override
    public double defaultLearningRate() {
        return 2e-3;
    }
}
