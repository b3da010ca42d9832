package org.peft4j.api;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import org.peft4j.api.internal.ConfigRegex;
import org.peft4j.api.internal.ModulePatterns;

/**
 * Which modules a LoRA config targets (or excludes), in the three forms Hugging Face PEFT
 * accepts for {@code target_modules}: a list of names, each matching the end of a module path
 * ({@code "query"} matches {@code encoder.layer.0.attention.self.query}); one regular expression
 * matched against the whole path, as PEFT's {@code re.fullmatch} does (peft/tuners/tuners_utils.py,
 * {@code check_target_module_exists}, lines 2306-2312 and 2326-2327 at commit 5d602fd), in linear
 * time ({@link ConfigRegex}); or {@code "all-linear"}, every linear layer except the modules kept
 * whole in {@code modules_to_save}.
 */
public final class TargetModules {
    /** The {@code target_modules} value that selects every linear layer. */
    public static final String ALL_LINEAR = "all-linear";

    private final Set<String> names;
    private final ConfigRegex regex;

    private TargetModules(Set<String> names, ConfigRegex regex) {
        this.names = names;
        this.regex = regex;
    }

    /**
     * Targets the modules whose path equals one of {@code names} or ends with {@code "." + name}.
     *
     * @throws IllegalArgumentException if no name, or a blank name, is given
     */
    public static TargetModules names(Collection<String> names) {
        Objects.requireNonNull(names, "target_modules");
        if (names.isEmpty()) {
            throw new IllegalArgumentException("target_modules must name at least one module");
        }
        Set<String> copy = new LinkedHashSet<>();
        for (String name : names) {
            if (name == null || name.isBlank()) {
                throw new IllegalArgumentException("target_modules contains a blank name: " + org.peft4j.api.internal.Excerpt.unquoted(names.toString()));
            }
            copy.add(name);
        }
        return new TargetModules(Collections.unmodifiableSet(copy), null);
    }

    /** Targets the modules whose path equals one of {@code names} or ends with one of them. */
    public static TargetModules names(String... names) {
        return names(java.util.Arrays.asList(names));
    }

    /**
     * Targets the modules whose whole path matches {@code regex}.
     *
     * @throws IllegalArgumentException if the expression does not compile (see {@link ConfigRegex})
     */
    public static TargetModules regex(String regex) {
        return regex(regex, "target_modules");
    }

    /**
     * Selects the modules whose whole path matches {@code regex}, read from the config key
     * {@code key} (which error messages name).
     *
     * @throws IllegalArgumentException if the expression does not compile (see {@link ConfigRegex})
     */
    public static TargetModules regex(String regex, String key) {
        Objects.requireNonNull(regex, key);
        if (regex.equals(ALL_LINEAR)) {
            return allLinear();
        }
        return new TargetModules(Set.of(), ConfigRegex.compile(regex, key));
    }

    /** Targets every linear layer except those in {@code modules_to_save}. */
    public static TargetModules allLinear() {
        return new TargetModules(Set.of(), null);
    }

    /** Returns whether this is {@code "all-linear"}. */
    public boolean isAllLinear() {
        return regex == null && names.isEmpty();
    }

    /** Returns whether this is a regular expression. */
    public boolean isRegex() {
        return regex != null;
    }

    /** Returns the names (empty unless this is a list of names). */
    public Set<String> names() {
        return names;
    }

    /** Returns the regular expression's source (null unless this is a regular expression). */
    public String regexSource() {
        return regex == null ? null : regex.source();
    }

    /**
     * Returns whether the module at {@code path} is selected. {@code "all-linear"} selects every
     * path; the caller checks that the module is linear and not kept in {@code modules_to_save}.
     */
    public boolean matches(String path) {
        if (regex != null) {
            return regex.fullMatch(path);
        }
        if (names.isEmpty()) {
            return true;
        }
        for (String name : names) {
            if (ModulePatterns.nameMatches(name, path)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The value {@code adapter_config.json} holds: {@code "all-linear"}, the regular expression as
     * a string, or the names as a list.
     */
    public Object toJsonValue() {
        if (isAllLinear()) {
            return ALL_LINEAR;
        }
        return isRegex() ? regexSource() : new java.util.ArrayList<>(names());
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof TargetModules)) {
            return false;
        }
        TargetModules other = (TargetModules) o;
        return names.equals(other.names) && Objects.equals(regexSource(), other.regexSource());
    }

    @Override
    public int hashCode() {
        return Objects.hash(names, regexSource());
    }

    @Override
    public String toString() {
        if (isAllLinear()) {
            return ALL_LINEAR;
        }
        return regex != null ? "regex " + regex.source() : names.toString();
    }
}
