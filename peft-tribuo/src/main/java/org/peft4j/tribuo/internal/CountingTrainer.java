package org.peft4j.tribuo.internal;

import org.tribuo.Output;
import org.tribuo.Trainer;
import org.tribuo.provenance.TrainerProvenance;
import org.tribuo.provenance.impl.TrainerProvenanceImpl;

/**
 * What peft4j's Tribuo trainers share: the count of {@code train} calls that Tribuo uses to
 * reproduce a run (each call draws its randomness from it), and a provenance made of the trainer's
 * {@code @Config} fields.
 *
 * @param <T> the output type
 */
public abstract class CountingTrainer<T extends Output<T>> implements Trainer<T> {
    private int invocationCount;

    /** Returns the number of {@code train} calls so far, and counts one more. */
    protected final synchronized int nextInvocation() {
        return invocationCount++;
    }

    @Override
    public synchronized int getInvocationCount() {
        return invocationCount;
    }

    @Override
    public synchronized void setInvocationCount(int invocationCount) {
        if (invocationCount < 0) {
            throw new IllegalArgumentException("invocationCount must be non-negative, got " + invocationCount);
        }
        this.invocationCount = invocationCount;
    }

    @Override
    public TrainerProvenance getProvenance() {
        return new TrainerProvenanceImpl(this);
    }
}
