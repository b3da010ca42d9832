package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.training.ParameterStore;
import org.peft4j.djl.VirtualTokenHost;

/**
 * A pretrained transformer encoder of any family (BERT, RoBERTa, DistilBERT, ...), as the task
 * heads see it: token ids in, one hidden state per token out. Each family's model is a DJL block
 * whose module paths are Hugging Face's, so {@code target_modules} and adapter keys are Python's;
 * it also hosts prompt- and prefix-tuning ({@link VirtualTokenHost}). Families are found by
 * {@code model_type} through {@link EncoderFamilies}.
 */
public interface TextEncoder extends VirtualTokenHost {
    /** Returns the family's {@code model_type}, as {@code config.json} names it (such as {@code bert}). */
    String modelType();

    /**
     * Computes {@code last_hidden_state} [B, T, hidden] of the real tokens (a prompt's virtual
     * tokens are left out).
     *
     * @param inputIds [B, T] int64
     * @param attentionMask [B, T], 1 for real tokens and 0 for padding, or null for no padding
     * @param tokenTypeIds [B, T], or null for all zeros (families without token types ignore it)
     */
    NDArray encode(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray tokenTypeIds, boolean training);

    /**
     * Returns the dropout a task head applies to the encoder's output while training, as the
     * family's Hugging Face heads do ({@code classifier_dropout}, or the hidden dropout without it).
     */
    float headDropout();

    /**
     * Returns the longest input, in tokens, the position table holds (virtual tokens included):
     * {@code max_position_embeddings}, less RoBERTa's {@code pad_token_id + 1} offset.
     */
    int maxTokens();
}
