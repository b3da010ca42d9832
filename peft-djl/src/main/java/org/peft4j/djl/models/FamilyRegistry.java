package org.peft4j.djl.models;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Function;
import org.peft4j.api.internal.Excerpt;

/**
 * Families of one kind (encoders, causal language models) by {@code model_type}, filled once from
 * {@code META-INF/services}, as transformers' {@code AutoModel} mappings are keyed.
 *
 * @param <F> the kind of family
 */
final class FamilyRegistry<F> {
    private final String kind;
    private final Map<String, F> byType = new TreeMap<>();

    /**
     * Loads every registered family of {@code type}.
     *
     * @param kind what the families load, for messages ("encoder", ...)
     * @param modelTypes the {@code model_type} values a family loads
     * @throws IllegalStateException if two families claim one {@code model_type}
     */
    FamilyRegistry(Class<F> type, String kind, Function<F, Iterable<String>> modelTypes) {
        this.kind = kind;
        for (F family : ServiceLoader.load(type, type.getClassLoader())) {
            for (String modelType : modelTypes.apply(family)) {
                F previous = byType.putIfAbsent(modelType, family);
                if (previous != null) {
                    throw new IllegalStateException("model_type \"" + modelType + "\" is registered twice: by "
                            + previous.getClass().getName() + " and " + family.getClass().getName());
                }
            }
        }
    }

    /**
     * Returns the family that loads {@code modelType}.
     *
     * @throws IllegalArgumentException listing the supported {@code model_type} values
     */
    F forModelType(String modelType) {
        F family = byType.get(modelType);
        if (family == null) {
            throw new IllegalArgumentException("model_type " + Excerpt.quote(modelType) + " is not a supported " + kind
                    + "; supported: " + String.join(", ", byType.keySet()));
        }
        return family;
    }
}
