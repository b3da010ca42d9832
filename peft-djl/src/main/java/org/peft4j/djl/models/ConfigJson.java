package org.peft4j.djl.models;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * A parsed Hugging Face {@code config.json} read key by key, each failure naming the file and the
 * key: what the families' config readers share.
 */
public final class ConfigJson {
    private final JsonNode root;
    private final String source;

    private ConfigJson(JsonNode root, String source) {
        this.root = root;
        this.source = source;
    }

    /** Wraps a parsed config; {@code source} (the file) prefixes every message. */
    public static ConfigJson of(JsonNode root, String source) {
        return new ConfigJson(root, source);
    }

    /** Returns where the config comes from. */
    public String source() {
        return source;
    }

    /**
     * Returns an integer key that must be present.
     *
     * @throws IllegalArgumentException if it is missing or not an integer
     */
    public int requiredInt(String key) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            throw error("missing required key \"" + key + "\"");
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw error("key \"" + key + "\": expected an integer, found " + v);
        }
        return v.intValue();
    }

    /** Returns an integer key, or {@code fallback} when it is absent or null. */
    public int optionalInt(String key, int fallback) {
        JsonNode v = root.get(key);
        return v == null || v.isNull() ? fallback : requiredInt(key);
    }

    /**
     * Returns a number key, or {@code fallback} when it is absent or null.
     *
     * @throws IllegalArgumentException if it is present and not a number
     */
    public Float optionalFloat(String key, Float fallback) {
        JsonNode v = root.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw error("key \"" + key + "\": expected a number, found " + v);
        }
        return (float) v.doubleValue();
    }

    /** Returns a string key, or {@code fallback} when it is absent or null. */
    public String optionalText(String key, String fallback) {
        JsonNode v = root.get(key);
        return v == null || v.isNull() ? fallback : v.asText();
    }

    /** Returns a boolean key, or {@code fallback} when it is absent or null. */
    public boolean optionalBoolean(String key, boolean fallback) {
        JsonNode v = root.get(key);
        return v == null || v.isNull() ? fallback : v.asBoolean();
    }

    /**
     * Requires a string key, when present, to be {@code expected}.
     *
     * @throws IllegalArgumentException naming the key, its value and what is supported
     */
    public void requireText(String key, String fallback, String expected) {
        String value = optionalText(key, fallback);
        if (!value.equals(expected)) {
            throw error(key + " \"" + value + "\" is not supported; expected \"" + expected + "\"");
        }
    }

    /** An exception whose message starts with the source. */
    public IllegalArgumentException error(String message) {
        return new IllegalArgumentException(source + ": " + message);
    }

    /** Prefixes an exception's message with the source unless it has it already. */
    public IllegalArgumentException wrap(IllegalArgumentException e) {
        return e.getMessage() != null && e.getMessage().startsWith(source) ? e : new IllegalArgumentException(
                source + ": " + e.getMessage(), e);
    }
}
