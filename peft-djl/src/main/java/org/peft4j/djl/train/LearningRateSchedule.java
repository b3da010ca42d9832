package org.peft4j.djl.train;

import ai.djl.training.tracker.Tracker;
import java.util.Locale;

/**
 * The learning rate over a run, as Hugging Face's {@code get_*_schedule_with_warmup} (and so
 * LLaMA-Factory) give it: update s (from 0) gets peak·s/warmup during the warm-up (so the first
 * update has rate 0, as there), then the peak (constant), peak·(total - s)/(total - warmup)
 * (linear), or peak·(1 + cos(π·(s - warmup)/(total - warmup)))/2 (cosine). A DJL {@link Tracker}, so
 * any DJL optimizer takes it.
 */
public final class LearningRateSchedule implements Tracker {
    /** The shape after the warm-up. */
    public enum Kind {
        /** Stays at the peak. */
        CONSTANT,
        /** Falls linearly to 0 at the last step. */
        LINEAR,
        /** Falls along half a cosine to 0 at the last step. */
        COSINE;

        /**
         * Returns the kind LLaMA-Factory's {@code lr_scheduler_type} names: constant, linear or cosine.
         *
         * @throws IllegalArgumentException for any other name
         */
        public static Kind fromName(String name) {
            for (Kind k : values()) {
                if (k.name().toLowerCase(Locale.ROOT).equals(name)) {
                    return k;
                }
            }
            throw new IllegalArgumentException("lr_scheduler_type must be constant, linear or cosine, got \"" + name + "\"");
        }
    }

    private final float peak;
    private final int warmupSteps;
    private final int totalSteps;
    private final Kind kind;

    /**
     * @param peak the learning rate at the end of the warm-up
     * @param warmupSteps updates of linear warm-up (0 for none)
     * @param totalSteps updates in the whole run
     * @param kind what follows the warm-up
     */
    public LearningRateSchedule(float peak, int warmupSteps, int totalSteps, Kind kind) {
        if (!(peak > 0) || !Float.isFinite(peak) || warmupSteps < 0 || totalSteps <= 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("need a finite peak > 0 and 0 <= warmupSteps <= totalSteps > 0, got peak="
                    + peak + ", warmupSteps=" + warmupSteps + ", totalSteps=" + totalSteps);
        }
        this.peak = peak;
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.kind = kind;
    }

    /** Returns the learning rate of update {@code step}, counting from 0 (DJL counts updates from 1; see {@link #getNewValue}). */
    public float at(int step) {
        if (step < warmupSteps) {
            return peak * step / warmupSteps;
        }
        if (kind == Kind.CONSTANT || totalSteps == warmupSteps) {
            return peak;
        }
        double progress = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
        if (kind == Kind.LINEAR) {
            return (float) (peak * (1 - progress));
        }
        return (float) (peak * 0.5 * (1 + Math.cos(Math.PI * progress)));
    }

    /** DJL's optimizers ask with the 1-based update count. */
    @Override
    public float getNewValue(int numUpdate) {
        return at(Math.max(0, numUpdate - 1));
    }
}
