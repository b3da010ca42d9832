package org.peft4j.api.lora.algebra;

import java.util.Arrays;
import java.util.List;
import org.apache.commons.math3.random.RandomGenerator;

/**
 * The task-vector merges of PEFT's peft/utils/merge_utils.py (PEFT 0.21) on flat arrays of equal
 * length, one per adapter: {@code task_arithmetic} (lines 144-160), {@code magnitude_prune}
 * (163-182), {@code ties} (185-214), {@code dare_linear} (217-236) and {@code dare_ties} (239-268),
 * with the pruning of lines 37-100 and the sign election and disjoint mean of lines 103-141.
 */
final class MergeFunctions {
    private MergeFunctions() {}

    /**
     * Combines the tensors as {@code type} does (the part before {@code _svd}).
     *
     * @param random draws DARE's masks (PEFT's {@code torch.bernoulli}, unseeded there)
     */
    static double[] combine(CombinationType type, List<double[]> tensors, double[] weights, double density,
            MajoritySignMethod signMethod, RandomGenerator random) {
        switch (type) {
            case LINEAR:
            case SVD:
                return weightedSum(tensors, weights);
            case MAGNITUDE_PRUNE:
            case MAGNITUDE_PRUNE_SVD:
                return weightedSum(tensors.stream().map(t -> magnitudePrune(t, density)).toList(), weights);
            case TIES:
            case TIES_SVD:
                return ties(tensors.stream().map(t -> magnitudePrune(t, density)).toList(), weights, signMethod);
            case DARE_LINEAR:
            case DARE_LINEAR_SVD:
                return weightedSum(tensors.stream().map(t -> randomPrune(t, density, random)).toList(), weights);
            case DARE_TIES:
            case DARE_TIES_SVD:
                return ties(tensors.stream().map(t -> randomPrune(t, density, random)).toList(), weights, signMethod);
            default:
                throw new IllegalArgumentException(type.peftName() + " does not combine tensors entry by entry");
        }
    }

    /** Σ w_i · t_i ({@code task_arithmetic}). */
    static double[] weightedSum(List<double[]> tensors, double[] weights) {
        double[] out = new double[tensors.get(0).length];
        for (int i = 0; i < tensors.size(); i++) {
            double[] t = tensors.get(i);
            for (int j = 0; j < out.length; j++) {
                out[j] += weights[i] * t[j];
            }
        }
        return out;
    }

    /**
     * Keeps the k = ⌊density · n⌋ entries of largest magnitude and zeroes the rest
     * ({@code magnitude_based_pruning}); a density of 1 or more keeps everything. Among equal
     * magnitudes the earlier entry is kept (torch.topk leaves that order unspecified).
     */
    static double[] magnitudePrune(double[] t, double density) {
        if (density >= 1) {
            return t;
        }
        int k = (int) (density * t.length);
        double[] out = new double[t.length];
        if (k == 0) {
            return out;
        }
        double[] magnitudes = new double[t.length];
        for (int j = 0; j < t.length; j++) {
            magnitudes[j] = Math.abs(t[j]);
        }
        Arrays.sort(magnitudes);
        double threshold = magnitudes[t.length - k];
        int atThreshold = k;
        for (int j = 0; j < t.length; j++) {
            if (Math.abs(t[j]) > threshold) {
                out[j] = t[j];
                atThreshold--;
            }
        }
        for (int j = 0; j < t.length && atThreshold > 0; j++) {
            if (Math.abs(t[j]) == threshold) {
                out[j] = t[j];
                atThreshold--;
            }
        }
        return out;
    }

    /**
     * Keeps each entry with probability {@code density} and divides the kept ones by it
     * ({@code random_pruning} with rescale, DARE); a density of 1 or more keeps everything unscaled.
     */
    static double[] randomPrune(double[] t, double density, RandomGenerator random) {
        if (density >= 1) {
            return t;
        }
        double[] out = new double[t.length];
        for (int j = 0; j < t.length; j++) {
            if (random.nextDouble() < density) {
                out[j] = t[j] / density;
            }
        }
        return out;
    }

    /**
     * TIES's last two steps on pruned tensors: the sign of each entry is elected from the unweighted
     * tensors; the weighted entries that carry it are averaged over their count (at least 1).
     */
    static double[] ties(List<double[]> pruned, double[] weights, MajoritySignMethod method) {
        int n = pruned.get(0).length;
        double[] out = new double[n];
        for (int j = 0; j < n; j++) {
            double magnitude = 0;
            for (double[] t : pruned) {
                magnitude += method == MajoritySignMethod.TOTAL ? t[j] : Math.signum(t[j]);
            }
            double majority = magnitude >= 0 ? 1 : -1;
            double sum = 0;
            int kept = 0;
            for (int i = 0; i < pruned.size(); i++) {
                double v = pruned.get(i)[j];
                if (Math.signum(v) == majority) {
                    sum += weights[i] * v;
                    kept++;
                }
            }
            out[j] = sum / Math.max(kept, 1);
        }
        return out;
    }
}
