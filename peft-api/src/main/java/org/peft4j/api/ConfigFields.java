package org.peft4j.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.peft4j.api.internal.Excerpt;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Typed access to the keys of one {@code adapter_config.json} object, for a {@link PeftMethod} to
 * read its config from: each accessor names the key in its error, quotes the file only as a short
 * escaped excerpt, and remembers that the key was read, so that {@link #checkRemaining} can refuse
 * unsupported features that are switched on and warn of keys nobody read.
 */
public final class ConfigFields {
    private static final Logger LOG = LoggerFactory.getLogger(ConfigFields.class);

    /** Keys every PEFT version writes that carry nothing peft4j needs. */
    private static final Set<String> IGNORED = Set.of(
            "auto_mapping", "revision", "peft_version", "megatron_core", "runtime_config",
            "num_transformer_submodules", "tokenizer_kwargs");

    /** Keys of features peft4j does not implement: accepted only while neutral. */
    private static final Set<String> UNSUPPORTED_WHEN_SET = Set.of(
            "layers_to_transform", "layers_pattern", "loftq_config", "lora_bias",
            "layer_replication", "fan_in_fan_out", "eva_config", "corda_config", "megatron_config",
            "trainable_token_indices", "target_parameters", "alora_invocation_tokens", "use_qalora",
            "ensure_weight_tying", "arrow_config");

    private final ObjectNode node;
    private final String source;
    private final Set<String> taken = new HashSet<>();

    /** Reads {@code node}; {@code source} names where it came from in messages. */
    public ConfigFields(ObjectNode node, String source) {
        this.node = node;
        this.source = source;
    }

    /** Where the object came from, for messages. */
    public String source() {
        return source;
    }

    /** {@code task_type}, or null. */
    public TaskType taskType() {
        return enumValue("task_type", TaskType.class, null);
    }

    /** {@code base_model_name_or_path}, or null. */
    public String baseModelNameOrPath() {
        return string("base_model_name_or_path");
    }

    /** {@code modules_to_save}, empty if absent. */
    public List<String> modulesToSave() {
        return stringList("modules_to_save");
    }

    /** {@code inference_mode}, false if absent. */
    public boolean inferenceMode() {
        return bool("inference_mode", false);
    }


    /** A value for a message: a string as a quoted excerpt, anything else as an excerpt of its JSON. */
    public static String show(JsonNode v) {
        return v.isTextual() ? Excerpt.quote(v.asText()) : Excerpt.unquoted(v.toString());
    }

    /** An error about {@code key}: what was expected and an excerpt of what was found. */
    public AdapterFormatException error(String key, String expected, JsonNode found) {
        return new AdapterFormatException(source + ": key \"" + key + "\": " + expected + ", found " + show(found));
    }

    /** The value of {@code key}, null if absent or null; marks it read. */
    public JsonNode take(String key) {
        taken.add(key);
        JsonNode v = node.get(key);
        return v == null || v.isNull() ? null : v;
    }

    /** The value of {@code key}, which must be present. */
    public JsonNode required(String key) {
        JsonNode v = take(key);
        if (v == null) {
            throw new AdapterFormatException(source + ": missing required key \"" + key + "\"");
        }
        return v;
    }

    /** The string value of {@code key}, which must be present. */
    public String requiredString(String key) {
        JsonNode v = required(key);
        if (!v.isTextual()) {
            throw error(key, "expected a string", v);
        }
        return v.asText();
    }

    /** The integer value of {@code key}, which must be present. */
    public int requiredInt(String key) {
        return asInt(key, required(key));
    }

    /** {@code v} as a 32-bit integer, or an error naming {@code key}. */
    public int asInt(String key, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw error(key, "expected an integer", v);
        }
        return v.intValue();
    }

    /** {@code v} as a finite 32-bit float, or an error naming {@code key}. */
    public float asFloat(String key, JsonNode v) {
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

    /** The integer value of {@code key}, or null. */
    public Integer integer(String key) {
        JsonNode v = take(key);
        return v == null ? null : asInt(key, v);
    }

    /** The float value of {@code key}, or {@code otherwise}. */
    public float floatValue(String key, float otherwise) {
        JsonNode v = take(key);
        return v == null ? otherwise : asFloat(key, v);
    }

    /** The boolean value of {@code key}, or {@code otherwise}. */
    public boolean bool(String key, boolean otherwise) {
        JsonNode v = take(key);
        if (v == null) {
            return otherwise;
        }
        if (!v.isBoolean()) {
            throw error(key, "expected true or false", v);
        }
        return v.booleanValue();
    }

    /** The string value of {@code key}, or null. */
    public String string(String key) {
        JsonNode v = take(key);
        if (v != null && !v.isTextual()) {
            throw error(key, "expected a string", v);
        }
        return v == null ? null : v.asText();
    }

    /** The string value of {@code key}, or {@code otherwise}. */
    public String stringOr(String key, String otherwise) {
        String v = string(key);
        return v == null ? otherwise : v;
    }

    /** The enum constant {@code key} names, or {@code otherwise}; an unknown name lists the known ones. */
    public <E extends Enum<E>> E enumValue(String key, Class<E> type, E otherwise) {
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
                + "; expected one of " + Arrays.toString(type.getEnumConstants()));
    }

    /** The list of strings under {@code key}, empty if absent. */
    public List<String> stringList(String key) {
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

    /** The entries of the object under {@code key}, empty if absent. */
    public Map<String, JsonNode> objectEntries(String key) {
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

    /** Target modules under {@code key}: a regular expression (a string) or names (a list). */
    public TargetModules targetModules(String key, boolean required) {
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
    public void checkRemaining() {
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
