package org.peft4j.api.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The rules Hugging Face PEFT uses to match module paths such as
 * {@code encoder.layer.0.attention.self.query} against the names users write in configs.
 */
public final class ModulePatterns {
    /** Compiled pattern keys, most recently used last; configs repeat a few keys over many modules. */
    private static final Map<String, ConfigRegex> PATTERN_KEYS = new LinkedHashMap<>(64, 0.75f, true) {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<String, ConfigRegex> eldest) {
            return size() > 256;
        }
    };

    private ModulePatterns() {}

    /**
     * Returns whether {@code name} names the module at {@code path}: the whole path, or its last
     * dot-separated segments ({@code "query"} and {@code "self.query"} both name
     * {@code encoder.layer.0.attention.self.query}), as PEFT's {@code check_target_module_exists}
     * matches a list of names (peft/tuners/tuners_utils.py, lines 2328-2332 at commit 5d602fd).
     */
    public static boolean nameMatches(String name, String path) {
        return path.equals(name) || path.endsWith("." + name);
    }

    /**
     * Returns whether a {@code rank_pattern} or {@code alpha_pattern} key matches a module path, as
     * PEFT's {@code get_pattern_key} decides it: the key is a regular expression that must match
     * the end of the path at a segment boundary (see {@link ConfigRegex#patternKey}).
     *
     * @throws IllegalArgumentException if the key is not a regular expression peft4j can match
     */
    public static boolean patternKeyMatches(String patternKey, String path) {
        ConfigRegex compiled;
        synchronized (PATTERN_KEYS) {
            compiled = PATTERN_KEYS.get(patternKey);
        }
        if (compiled == null) {
            compiled = ConfigRegex.patternKey(patternKey, "pattern");
            synchronized (PATTERN_KEYS) {
                PATTERN_KEYS.put(patternKey, compiled);
            }
        }
        return compiled.matchesAtStart(path);
    }
}
