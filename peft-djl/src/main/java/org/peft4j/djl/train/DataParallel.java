package org.peft4j.djl.train;

import ai.djl.nn.Parameter;
import java.util.List;
import java.util.function.Supplier;

/**
 * How one replica of a data-parallel run takes part in it ({@link FineTuning.Settings.Builder#optDataParallel}):
 * every replica holds the same model and adapter, trains on its own share of the rows, and at each
 * update the replicas make their trainable parameters agree again, by averaging gradients before
 * the optimizer step (every replica then takes the same step) or, as another algorithm, by
 * averaging weights every few updates. peft-spark implements it over Spark's tasks.
 *
 * <p>Every replica calls the methods in the same order with the same update numbers; an
 * implementation may block until the others arrive and must fail, not hang, when one does not.
 */
public interface DataParallel {
    /**
     * Runs this replica's forward and backward pass of one micro-batch and returns its loss; an
     * implementation may observe the loss or serialise the pass with other work of its JVM. Never
     * waits on other replicas.
     */
    default float forwardBackward(Supplier<Float> pass) {
        return pass.get();
    }

    /**
     * Called after the update's backward passes and before gradient clipping and the optimizer
     * step, with the trainable parameters in the same order on every replica.
     *
     * @param update the update about to be taken, from 1
     */
    void beforeStep(List<Parameter> trainable, int update);

    /**
     * Called after the optimizer step.
     *
     * @param update the update just taken, from 1
     */
    default void afterStep(List<Parameter> trainable, int update) {
        // nothing to do after the step when gradients were averaged before it
    }
}
