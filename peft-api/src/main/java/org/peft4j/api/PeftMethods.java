package org.peft4j.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;

/**
 * The registry of PEFT methods: every {@link PeftMethod} named in a
 * {@code META-INF/services/org.peft4j.api.PeftMethod} file on the class path, found with Java's
 * {@link ServiceLoader}. Nothing else in peft4j lists the methods, so adding one is its package
 * and one line in that file.
 */
public final class PeftMethods {
    private static final List<PeftMethod> ALL = load();

    private PeftMethods() {}

    private static List<PeftMethod> load() {
        List<PeftMethod> methods = new ArrayList<>();
        ServiceLoader.load(PeftMethod.class, PeftMethods.class.getClassLoader()).forEach(methods::add);
        return Collections.unmodifiableList(methods);
    }

    /** Every registered method, in registration order. */
    public static List<PeftMethod> all() {
        return ALL;
    }

    /**
     * The method of a {@code peft_type}.
     *
     * @throws IllegalArgumentException naming the known types if none is registered for it
     */
    public static PeftMethod forType(PeftType type) {
        for (PeftMethod m : ALL) {
            if (m.peftType() == type) {
                return m;
            }
        }
        throw new IllegalArgumentException("peft_type " + type + " has no registered method; known: " + typeNames());
    }

    /**
     * The method of a {@code peft_type} as a file writes it.
     *
     * @throws IllegalArgumentException naming the known types if {@code name} is none of them
     */
    public static PeftMethod forTypeName(String name) {
        for (PeftMethod m : ALL) {
            if (m.peftType().name().equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("peft_type " + org.peft4j.api.internal.Excerpt.quote(name)
                + " is not supported; expected one of " + typeNames());
    }

    /** The method that {@code config} configures. */
    public static PeftMethod forConfig(PeftConfig config) {
        return forType(config.peftType());
    }

    /**
     * The method of LLaMA-Factory's {@code finetuning_type} name.
     *
     * @throws IllegalArgumentException naming the known names if {@code name} is none of them
     */
    public static PeftMethod forFinetuningType(String name) {
        for (PeftMethod m : ALL) {
            if (m.finetuningType().equals(name)) {
                return m;
            }
        }
        throw new IllegalArgumentException("finetuning_type " + org.peft4j.api.internal.Excerpt.quote(name)
                + " names no method; known: "
                + finetuningTypes());
    }

    /** The {@code finetuning_type} names of the registered methods. */
    public static List<String> finetuningTypes() {
        return ALL.stream().map(PeftMethod::finetuningType).toList();
    }

    private static List<String> typeNames() {
        return ALL.stream().map(m -> m.peftType().name()).toList();
    }
}
