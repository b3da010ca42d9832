package org.peft4j.djl.train;

import java.io.IOException;

/**
 * Where a {@link FineTuning} run keeps its {@link TrainingState} every few updates and finds it
 * again after a failure ({@link FineTuning.Settings.Builder#optCheckpointing}). A run given one
 * first asks for {@link #latest()}: if there is a state, it restores the weights, the optimizer and
 * the bookkeeping from it, replays the updates before it without computing them (the same batches,
 * the saved losses), and continues, so that it ends with the adapter of a run that was never
 * interrupted. peft-spark keeps the states of a Spark stage's replicas on storage every executor
 * reaches, so that a retried stage resumes.
 */
public interface Checkpointing {
    /**
     * Updates between states ({@code save_steps}): a state is saved after every multiple of it; 0
     * saves none (a run that only resumes).
     */
    int saveSteps();

    /** The last state saved, or null to start at update 1. */
    TrainingState latest() throws IOException;

    /** Keeps {@code state}; called after every {@link #saveSteps()}-th update. */
    void save(TrainingState state) throws IOException;
}
