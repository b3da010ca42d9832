package org.peft4j.api.checkpoint;

import com.fasterxml.jackson.core.ErrorReportConfiguration;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.TaskType;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.lora.TargetModules;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.prompt.PromptTuningInit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads and writes {@code adapter_config.json} with Hugging Face PEFT's key names, so that configs
 * move between peft4j and Python unchanged.
 *
 * <p>Reading is strict about what matters and lenient about what does not: a missing required key
 * or a value of the wrong type is an error naming the key; a key that Hugging Face PEFT knows but
 * peft4j does not implement is accepted while it holds its neutral value (null, false, empty) and
 * an error when it asks for the feature; any other key is ignored with a warning, so that configs
 * written by newer PEFT versions still load. A number that does not fit its Java type (an
 * integer beyond 32 bits, a float that overflows to infinity) is an error naming the key, and
 * messages quote the file's content only as short, escaped excerpts ({@link Excerpt}).
 */
public final class AdapterConfigJson {
    private static final Logger LOG = LoggerFactory.getLogger(AdapterConfigJson.class);
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .errorReportConfiguration(ErrorReportConfiguration.builder()
                    .maxErrorTokenLength(Excerpt.MAX_CHARS)
                    .maxRawContentLength(0)
                    .build())
            .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT);

    /** Keys every PEFT version writes that carry nothing peft4j needs. */
    private static final Set<String> IGNORED = Set.of(
            "auto_mapping", "revision", "peft_version", "megatron_core", "runtime_config",
            "num_transformer_submodules", "tokenizer_kwargs");

    /** Keys of features peft4j does not implement: accepted only while neutral. */
    private static final Set<String> UNSUPPORTED_WHEN_SET = Set.of(
            "use_dora", "layers_to_transform", "layers_pattern", "loftq_config", "lora_bias",
            "layer_replication", "fan_in_fan_out", "eva_config", "corda_config", "megatron_config",
            "trainable_token_indices", "target_parameters", "alora_invocation_tokens", "use_qalora",
            "ensure_weight_tying", "arrow_config");

    private AdapterConfigJson() {}

    /**
     * Parses the bytes of an {@code adapter_config.json}, which must be UTF-8.
     *
     * @param source where the bytes came from, for messages (a file path)
     * @throws AdapterFormatException as {@link #parse(String, String)} does, or if the bytes are not UTF-8
     */
    public static PeftConfig parse(byte[] utf8, String source) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(utf8);
        String text;
        try {
            text = decoder.decode(in).toString();
        } catch (CharacterCodingException e) {
            throw new AdapterFormatException(source + ": not UTF-8 text (an invalid byte sequence at byte "
                    + in.position() + ")", e);
        }
        return parse(text, source);
    }

    /**
     * Parses the text of an {@code adapter_config.json}.
     *
     * @param json the file's text
     * @param source where the text came from, for messages (a file path)
     * @throws AdapterFormatException if the JSON is malformed, a required key is missing, or a
     *     value has the wrong type or asks for an unsupported feature
     */
    public static PeftConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new AdapterFormatException(source + ": not valid JSON"
                    + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")") + ": "
                    + Excerpt.quote(e.getOriginalMessage(), 3 * Excerpt.MAX_CHARS), e);
        }
        if (root == null || !root.isObject()) {
            throw new AdapterFormatException(source + ": expected a JSON object");
        }
        requireNoLoneSurrogates(root, source);
        Fields f = new Fields((ObjectNode) root, source);
        String peftType = f.requiredString("peft_type");
        PeftConfig config;
        try {
            config = build(peftType, f);
        } catch (IllegalArgumentException e) {
            throw new AdapterFormatException(source + ": " + e.getMessage(), e);
        }
        f.checkRemaining();
        return config;
    }

    /** Refuses keys and strings holding a lone surrogate, which only a {@code \\u} escape can write. */
    private static void requireNoLoneSurrogates(JsonNode node, String source) {
        if (node.isTextual()) {
            requireNoLoneSurrogate(node.asText(), source);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            requireNoLoneSurrogate(e.getKey(), source);
            requireNoLoneSurrogates(e.getValue(), source);
        }
        if (node.isArray()) {
            node.forEach(element -> requireNoLoneSurrogates(element, source));
        }
    }

    private static void requireNoLoneSurrogate(String s, String source) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new AdapterFormatException(source + ": the string " + Excerpt.quote(s)
                        + " holds a \\u escape that is a lone surrogate, not a character");
            }
        }
    }

    private static PeftConfig build(String peftType, Fields f) {
        PeftConfig config;
        switch (peftType) {
            case "LORA":
                config = parseLora(f);
                break;
            case "PROMPT_TUNING":
                config = new PromptTuningConfig(
                        f.requiredInt("num_virtual_tokens"),
                        f.enumValue("prompt_tuning_init", PromptTuningInit.class, PromptTuningInit.RANDOM),
                        f.string("prompt_tuning_init_text"), f.string("tokenizer_name_or_path"),
                        f.integer("token_dim"), f.integer("num_layers"), f.integer("num_attention_heads"),
                        f.stringList("modules_to_save"), f.enumValue("task_type", TaskType.class, null),
                        f.string("base_model_name_or_path"), f.bool("inference_mode", false));
                break;
            case "PREFIX_TUNING":
                config = new PrefixTuningConfig(
                        f.requiredInt("num_virtual_tokens"), f.bool("prefix_projection", false),
                        f.integer("encoder_hidden_size"), f.integer("token_dim"), f.integer("num_layers"),
                        f.integer("num_attention_heads"), f.stringList("modules_to_save"),
                        f.enumValue("task_type", TaskType.class, null), f.string("base_model_name_or_path"),
                        f.bool("inference_mode", false));
                break;
            default:
                throw new AdapterFormatException(f.source + ": peft_type " + Excerpt.quote(peftType)
                        + " is not supported; expected one of LORA, PROMPT_TUNING, PREFIX_TUNING");
        }
        return config;
    }

    private static LoraConfig parseLora(Fields f) {
        JsonNode init = f.take("init_lora_weights");
        LoraInit loraInit;
        if (init == null || init.isNull() || init.isBoolean() && init.booleanValue()) {
            loraInit = LoraInit.KAIMING_UNIFORM;
        } else if (init.isBoolean()) {
            loraInit = LoraInit.RANDOM;
        } else if (init.isTextual() && init.asText().equals("gaussian")) {
            loraInit = LoraInit.GAUSSIAN;
        } else {
            throw f.error("init_lora_weights", "expected true, false or \"gaussian\" (other schemes are not supported)", init);
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
                    f.stringList("modules_to_save"),
                    f.enumValue("task_type", TaskType.class, null),
                    f.string("base_model_name_or_path"),
                    f.bool("inference_mode", false));
    }

    /** Returns the text of an {@code adapter_config.json} for {@code config}, keys sorted as PEFT writes them. */
    public static String toJson(PeftConfig config) {
        Map<String, Object> out = new TreeMap<>();
        out.put("peft_type", config.peftType().name());
        out.put("task_type", config.taskType() == null ? null : config.taskType().name());
        out.put("base_model_name_or_path", config.baseModelNameOrPath());
        out.put("revision", null);
        out.put("inference_mode", config.inferenceMode());
        out.put("modules_to_save", config.modulesToSave().isEmpty() ? null : config.modulesToSave());
        if (config instanceof LoraConfig) {
            LoraConfig c = (LoraConfig) config;
            out.put("r", c.r());
            out.put("lora_alpha", number(c.loraAlpha()));
            out.put("lora_dropout", (double) c.loraDropout());
            out.put("target_modules", targetModulesJson(c.targetModules()));
            if (c.excludeModules() != null) {
                out.put("exclude_modules", targetModulesJson(c.excludeModules()));
            }
            out.put("use_rslora", c.useRslora());
            out.put("bias", c.bias().jsonName());
            out.put("init_lora_weights", c.initLoraWeights() == LoraInit.GAUSSIAN ? "gaussian"
                    : c.initLoraWeights() == LoraInit.KAIMING_UNIFORM);
            Map<String, Object> alphas = new LinkedHashMap<>();
            c.alphaPattern().forEach((k, v) -> alphas.put(k, number(v)));
            out.put("rank_pattern", c.rankPattern());
            out.put("alpha_pattern", alphas);
            out.put("fan_in_fan_out", false);
            out.put("use_dora", false);
            out.put("layers_to_transform", null);
            out.put("layers_pattern", null);
        } else if (config instanceof PromptTuningConfig) {
            PromptTuningConfig c = (PromptTuningConfig) config;
            out.put("num_virtual_tokens", c.numVirtualTokens());
            out.put("prompt_tuning_init", c.promptTuningInit().name());
            out.put("prompt_tuning_init_text", c.promptTuningInitText());
            out.put("tokenizer_name_or_path", c.tokenizerNameOrPath());
            out.put("token_dim", c.tokenDim());
            out.put("num_layers", c.numLayers());
            out.put("num_attention_heads", c.numAttentionHeads());
            out.put("num_transformer_submodules", 1);
        } else if (config instanceof PrefixTuningConfig) {
            PrefixTuningConfig c = (PrefixTuningConfig) config;
            out.put("num_virtual_tokens", c.numVirtualTokens());
            out.put("prefix_projection", c.prefixProjection());
            out.put("encoder_hidden_size", c.encoderHiddenSize());
            out.put("token_dim", c.tokenDim());
            out.put("num_layers", c.numLayers());
            out.put("num_attention_heads", c.numAttentionHeads());
            out.put("num_transformer_submodules", 1);
        } else {
            throw new IllegalArgumentException("no JSON form for " + config.getClass().getName());
        }
        try {
            return JSON.writeValueAsString(out) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + config, e);
        }
    }

    private static Object targetModulesJson(TargetModules t) {
        if (t.isAllLinear()) {
            return TargetModules.ALL_LINEAR;
        }
        return t.isRegex() ? t.regexSource() : new ArrayList<>(t.names());
    }

    /** Writes a float that holds an integer as an integer (16, not 16.0), as Python configs do. */
    private static Object number(float v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? (Object) (long) v : (Object) (double) v;
    }

    /** Typed access to the keys of one config object, remembering which keys were read. */
    private static final class Fields {
        final ObjectNode node;
        final String source;
        final Set<String> taken = new HashSet<>();

        Fields(ObjectNode node, String source) {
            this.node = node;
            this.source = source;
        }

        /** A value for a message: a string as a quoted excerpt, anything else as an excerpt of its JSON. */
        static String show(JsonNode v) {
            return v.isTextual() ? Excerpt.quote(v.asText()) : Excerpt.unquoted(v.toString());
        }

        AdapterFormatException error(String key, String expected, JsonNode found) {
            return new AdapterFormatException(source + ": key \"" + key + "\": " + expected + ", found " + show(found));
        }

        JsonNode take(String key) {
            taken.add(key);
            JsonNode v = node.get(key);
            return v == null || v.isNull() ? null : v;
        }

        JsonNode required(String key) {
            JsonNode v = take(key);
            if (v == null) {
                throw new AdapterFormatException(source + ": missing required key \"" + key + "\"");
            }
            return v;
        }

        String requiredString(String key) {
            JsonNode v = required(key);
            if (!v.isTextual()) {
                throw error(key, "expected a string", v);
            }
            return v.asText();
        }

        int requiredInt(String key) {
            return asInt(key, required(key));
        }

        int asInt(String key, JsonNode v) {
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw error(key, "expected an integer", v);
            }
            return v.intValue();
        }

        float asFloat(String key, JsonNode v) {
            if (!v.isNumber()) {
                throw error(key, "expected a number", v);
            }
            double d = v.doubleValue();
            if (Double.isInfinite(d) || Float.isInfinite((float) d)) {
                throw error(key, "expected a number that fits a 32-bit float (at most " + Float.MAX_VALUE
                        + " in magnitude)", v);
            }
            return (float) d;
        }

        Integer integer(String key) {
            JsonNode v = take(key);
            return v == null ? null : asInt(key, v);
        }

        float floatValue(String key, float otherwise) {
            JsonNode v = take(key);
            return v == null ? otherwise : asFloat(key, v);
        }

        boolean bool(String key, boolean otherwise) {
            JsonNode v = take(key);
            if (v == null) {
                return otherwise;
            }
            if (!v.isBoolean()) {
                throw error(key, "expected true or false", v);
            }
            return v.booleanValue();
        }

        String string(String key) {
            JsonNode v = take(key);
            if (v != null && !v.isTextual()) {
                throw error(key, "expected a string", v);
            }
            return v == null ? null : v.asText();
        }

        String stringOr(String key, String otherwise) {
            String v = string(key);
            return v == null ? otherwise : v;
        }

        <E extends Enum<E>> E enumValue(String key, Class<E> type, E otherwise) {
            String v = string(key);
            if (v == null) {
                return otherwise;
            }
            for (E e : type.getEnumConstants()) {
                if (e.name().equals(v)) {
                    return e;
                }
            }
            throw new AdapterFormatException(source + ": key \"" + key + "\": unknown value " + Excerpt.quote(v)
                    + "; expected one of " + java.util.Arrays.toString(type.getEnumConstants()));
        }

        List<String> stringList(String key) {
            JsonNode v = take(key);
            if (v == null) {
                return List.of();
            }
            if (!v.isArray()) {
                throw error(key, "expected a list of strings", v);
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isTextual()) {
                    throw error(key, "expected a list of strings", v);
                }
                out.add(e.asText());
            }
            return out;
        }

        Map<String, JsonNode> objectEntries(String key) {
            JsonNode v = take(key);
            Map<String, JsonNode> out = new LinkedHashMap<>();
            if (v == null) {
                return out;
            }
            if (!v.isObject()) {
                throw error(key, "expected an object", v);
            }
            v.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue()));
            return out;
        }

        TargetModules targetModules(String key, boolean required) {
            JsonNode v = required ? required(key) : take(key);
            if (v == null) {
                return null;
            }
            if (v.isTextual()) {
                try {
                    return TargetModules.regex(v.asText(), key);
                } catch (IllegalArgumentException e) {
                    throw new AdapterFormatException(source + ": " + e.getMessage(), e);
                }
            }
            try {
                return TargetModules.names(stringList(key));
            } catch (IllegalArgumentException e) {
                throw new AdapterFormatException(source + ": key \"" + key + "\": " + e.getMessage(), e);
            }
        }

        /** Rejects unsupported features that are switched on and warns of keys nobody read. */
        void checkRemaining() {
            List<String> unknown = new ArrayList<>();
            for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (taken.contains(key) || IGNORED.contains(key)) {
                    continue;
                }
                JsonNode v = node.get(key);
                if (UNSUPPORTED_WHEN_SET.contains(key)) {
                    if (!isNeutral(v)) {
                        throw new AdapterFormatException(source + ": key \"" + key + "\" is set to " + show(v)
                                + ", a feature this version of peft4j does not support");
                    }
                    continue;
                }
                if (unknown.size() < 20) {
                    unknown.add(Excerpt.quote(key));
                } else if (unknown.size() == 20) {
                    unknown.add("...");
                }
            }
            if (!unknown.isEmpty()) {
                LOG.warn("{}: ignoring keys this version of peft4j does not know: {}", source, unknown);
            }
        }

        private static boolean isNeutral(JsonNode v) {
            return v.isNull() || v.isBoolean() && !v.booleanValue() || v.isContainerNode() && v.isEmpty();
        }
    }
}
