package org.peft4j.djl.generation;

/**
 * Receives each token a {@link Generator} chooses, as it is chosen (a streaming consumer, like
 * transformers' {@code streamer}): once per step for each row that has not finished, in row order;
 * a row's end-of-sequence token is reported, the padding of finished rows is not.
 */
@FunctionalInterface
public interface TokenListener {
    /**
     * Called with the new token of one row.
     *
     * @param row the prompt's index in the batch
     * @param tokenId the chosen token
     */
    void onToken(int row, long tokenId);
}
