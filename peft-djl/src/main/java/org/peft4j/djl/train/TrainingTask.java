package org.peft4j.djl.train;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.loss.Loss;
import java.util.List;

/**
 * A task's side of a fine-tuning run over rows of type {@code R}: how a batch of rows becomes the
 * model's inputs and the loss's targets, the loss, and how the model is scored on held-out rows.
 * The run itself (batching by length, gradient accumulation, clipping, AdamW, the schedule, logs,
 * the best adapter, early stopping) is the same for every task.
 *
 * @param <R> a training row, such as a labelled text, a tagged sentence or a text pair
 */
public interface TrainingTask<R> {
    /**
     * Returns the number of tokens of a row: batches group rows of similar length, and the
     * throughput counts them.
     */
    int length(R row);

    /**
     * Turns rows into the block's inputs and the loss's targets, created in {@code manager}.
     *
     * @throws IllegalArgumentException naming a row that cannot be used (such as an unknown label)
     */
    Batch batch(NDManager manager, List<R> rows);

    /** Returns the loss, computed from {@link Batch#targets()} and the block's outputs. */
    Loss loss();

    /** Returns a new, empty scorer of held-out rows. */
    Evaluator<R> evaluator();

    /**
     * The arrays of one batch.
     *
     * @param inputs what the block's forward pass takes
     * @param targets what the loss compares the outputs with
     */
    record Batch(NDList inputs, NDList targets) {}

    /**
     * Scores the model on held-out rows, batch by batch: {@link #add} sees each batch's rows and
     * the block's outputs (computed without training), {@link #result} the whole.
     *
     * @param <R> the task's row
     */
    interface Evaluator<R> {
        /** Adds one batch: its rows, its arrays and the block's outputs on its inputs. */
        void add(List<R> rows, Batch batch, NDList outputs);

        /** Returns the loss and the metrics over every row added. */
        TaskEvaluation result();
    }
}
