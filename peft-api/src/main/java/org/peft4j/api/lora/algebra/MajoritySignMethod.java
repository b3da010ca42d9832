package org.peft4j.api.lora.algebra;

import java.util.Locale;
import org.peft4j.api.internal.Excerpt;

/**
 * How TIES elects the sign of each entry across the adapters (PEFT's {@code majority_sign_method},
 * peft/utils/merge_utils.py, {@code calculate_majority_sign_mask}, lines 103-125): the sign of the sum
 * of the values, or of the sum of their signs; a tie counts as positive.
 */
public enum MajoritySignMethod {
    /** The sign of the sum of the (pruned, unweighted) values: {@code "total"}, the default. */
    TOTAL,
    /** The sign that most adapters have: {@code "frequency"}. */
    FREQUENCY;

    /** Returns PEFT's name, {@code "total"} or {@code "frequency"}. */
    public String peftName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * Returns the method PEFT names {@code name} (case-insensitive).
     *
     * @throws IllegalArgumentException if it is neither {@code total} nor {@code frequency}
     */
    public static MajoritySignMethod fromPeftName(String name) {
        for (MajoritySignMethod m : values()) {
            if (m.peftName().equals(name == null ? null : name.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("unknown majority_sign_method " + Excerpt.quote(String.valueOf(name))
                + "; expected total or frequency");
    }
}
