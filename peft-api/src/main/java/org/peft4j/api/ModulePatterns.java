package org.peft4j.api;

import java.util.regex.Pattern;

/**
 * The rules Hugging Face PEFT uses to match module paths such as
 * {@code encoder.layer.0.attention.self.query} against the names users write in configs.
 */
public final class ModulePatterns {
    private ModulePatterns() {}

    /**
     * Returns whether {@code name} names the module at {@code path}: the whole path, or its last
     * dot-separated segments ({@code "query"} and {@code "self.query"} both name
     * {@code encoder.layer.0.attention.self.query}).
     */
    public static boolean nameMatches(String name, String path) {
        return path.equals(name) || path.endsWith("." + name);
    }

    /**
     * Returns whether a {@code rank_pattern} or {@code alpha_pattern} key matches a module path: the
     * key is a regular expression that must match the end of the path at a segment boundary.
     */
    public static boolean patternKeyMatches(String patternKey, String path) {
        return Pattern.compile("(.*\\.)?(" + patternKey + ")").matcher(path).matches();
    }
}
