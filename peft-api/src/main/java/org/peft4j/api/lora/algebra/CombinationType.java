package org.peft4j.api.lora.algebra;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.peft4j.api.internal.Excerpt;

/**
 * How {@link WeightedAdapterMerge} combines LoRA adapters, by the names Hugging Face PEFT's
 * {@code add_weighted_adapter} takes for {@code combination_type} (peft/tuners/lora/model.py,
 * lines 681-830 in PEFT 0.21). The types without {@code _svd} (except {@code cat}) combine the A
 * matrices and the B matrices separately and need equal ranks; {@code cat} stacks them along the
 * rank; the {@code svd} family combines the full updates ΔW = s·B·A and factors the result again by
 * a truncated SVD.
 */
public enum CombinationType {
    /** Weighted sum of the A's and of the B's, √|w·s| on each side: {@code linear}. */
    LINEAR("linear", false, false),
    /** A's (times w·s) and B's concatenated along the rank: {@code cat}. */
    CAT("cat", false, false),
    /** Weighted sum of the ΔW's, then a truncated SVD: {@code svd}. */
    SVD("svd", true, false),
    /** TIES (trim by magnitude, elect the sign, disjoint mean) on A and B: {@code ties}. */
    TIES("ties", false, true),
    /** TIES on the ΔW's, then a truncated SVD: {@code ties_svd}. */
    TIES_SVD("ties_svd", true, true),
    /** DARE (random drop, rescale by 1/density), then a weighted sum, on A and B: {@code dare_linear}. */
    DARE_LINEAR("dare_linear", false, true),
    /** DARE, then TIES's sign election and disjoint mean, on A and B: {@code dare_ties}. */
    DARE_TIES("dare_ties", false, true),
    /** DARE on the ΔW's and a weighted sum, then a truncated SVD: {@code dare_linear_svd}. */
    DARE_LINEAR_SVD("dare_linear_svd", true, true),
    /** DARE with TIES on the ΔW's, then a truncated SVD: {@code dare_ties_svd}. */
    DARE_TIES_SVD("dare_ties_svd", true, true),
    /** Magnitude pruning, then a weighted sum, on A and B: {@code magnitude_prune}. */
    MAGNITUDE_PRUNE("magnitude_prune", false, true),
    /** Magnitude pruning on the ΔW's and a weighted sum, then a truncated SVD: {@code magnitude_prune_svd}. */
    MAGNITUDE_PRUNE_SVD("magnitude_prune_svd", true, true);

    private final String peftName;
    private final boolean svd;
    private final boolean needsDensity;

    CombinationType(String peftName, boolean svd, boolean needsDensity) {
        this.peftName = peftName;
        this.svd = svd;
        this.needsDensity = needsDensity;
    }

    /** Returns PEFT's name for this type, such as {@code "dare_ties_svd"}. */
    public String peftName() {
        return peftName;
    }

    /** Returns whether this type combines the full updates ΔW and factors them by an SVD. */
    public boolean isSvd() {
        return svd;
    }

    /** Returns whether this type prunes, and so needs a {@code density}. */
    public boolean needsDensity() {
        return needsDensity;
    }

    /** Returns whether this type uses a majority sign (TIES's election). */
    public boolean electsSign() {
        return this == TIES || this == TIES_SVD || this == DARE_TIES || this == DARE_TIES_SVD;
    }

    /** Returns whether this type drops entries at random (DARE). */
    public boolean isRandom() {
        return this == DARE_LINEAR || this == DARE_TIES || this == DARE_LINEAR_SVD || this == DARE_TIES_SVD;
    }

    /** Returns whether this type combines A and B separately and so needs every adapter at the same rank. */
    public boolean needsEqualRanks() {
        return !svd && this != CAT;
    }

    /**
     * Returns the type PEFT names {@code name} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the known types if there is none
     */
    public static CombinationType fromPeftName(String name) {
        for (CombinationType t : values()) {
            if (t.peftName.equals(name == null ? null : name.toLowerCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown combination_type " + Excerpt.quote(String.valueOf(name))
                + "; expected one of " + Arrays.stream(values()).map(CombinationType::peftName).collect(Collectors.joining(", ")));
    }
}
