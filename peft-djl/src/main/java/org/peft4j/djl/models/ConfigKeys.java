package org.peft4j.djl.models;

import com.fasterxml.jackson.databind.JsonNode;

/** Reads typed keys of a Hugging Face {@code config.json}, with messages that name the file and the key. */
public final class ConfigKeys {
    private ConfigKeys() {}

    /**
     * Returns a required positive integer.
     *
     * @throws IllegalArgumentException if the key is missing, not an integer or not positive
     */
    public static int positiveInt(JsonNode config, String key, String source) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            throw new IllegalArgumentException(source + ": missing required key \"" + key + "\"");
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(source + ": key \"" + key + "\": expected an integer, found " + v);
        }
        if (v.intValue() <= 0) {
            throw new IllegalArgumentException(source + ": key \"" + key + "\" must be positive, found " + v);
        }
        return v.intValue();
    }

    /** Returns an optional positive integer, or {@code fallback} when the key is missing or null. */
    public static int positiveInt(JsonNode config, String key, int fallback, String source) {
        JsonNode v = config.get(key);
        return v == null || v.isNull() ? fallback : positiveInt(config, key, source);
    }

    /**
     * Returns an optional number, or {@code fallback} when the key is missing or null.
     *
     * @throws IllegalArgumentException if it is present but not a number
     */
    public static double number(JsonNode config, String key, double fallback, String source) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new IllegalArgumentException(source + ": key \"" + key + "\": expected a number, found " + v);
        }
        return v.doubleValue();
    }

    /**
     * Returns an optional boolean, or {@code fallback} when the key is missing or null.
     *
     * @throws IllegalArgumentException if it is present but not a boolean
     */
    public static boolean bool(JsonNode config, String key, boolean fallback, String source) {
        JsonNode v = config.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isBoolean()) {
            throw new IllegalArgumentException(source + ": key \"" + key + "\": expected true or false, found " + v);
        }
        return v.booleanValue();
    }
}
