package org.peft4j.djl;

import ai.djl.nn.Parameter;
import java.util.List;
import org.peft4j.api.Adapter;

/**
 * An adapter attached to a DJL block tree, as {@link PeftModel} manages it. Each method package
 * ({@code org.peft4j.djl.lora}, ...) implements this for its own layers; applications use
 * {@link PeftModel} rather than calling these methods.
 */
public interface AttachedAdapter extends Adapter {
    /** Returns the parameters that train while this adapter is active. */
    List<Parameter> trainableParameterList();

    /** Returns the number of scalars in {@link #trainableParameterList()}. */
    @Override
    default long trainableParameterCount() {
        long n = 0;
        for (Parameter p : trainableParameterList()) {
            n += p.getArray().size();
        }
        return n;
    }

    /** Makes this adapter the one the model's forward pass uses, or stops using it. */
    void setActive(boolean active);

    /** Bypasses (true) or restores (false) this adapter in the forward pass without removing it. */
    void setDisabled(boolean disabled);

    /** Folds this adapter into the base weights, so inference costs what the base model costs. */
    void merge();

    /** Takes a merged adapter back out of the base weights. */
    void unmerge();

    /** Returns whether this adapter is folded into the base weights. */
    boolean isMerged();

    /**
     * Detaches this adapter and frees its arrays. Every layer it alone wrapped gets its original
     * block back. With {@code keepMergedWeights} false, every base value it changed (a merge,
     * trained biases, modules to save) is restored; with true, those changes stay in the base.
     */
    void remove(boolean keepMergedWeights);
}
