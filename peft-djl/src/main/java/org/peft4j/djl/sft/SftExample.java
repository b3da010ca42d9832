package org.peft4j.djl.sft;

import java.util.Arrays;

/**
 * One tokenized supervised fine-tuning example: the token ids of a rendered conversation and the
 * label of each ({@link #IGNORE} where no loss is taken, such as on prompt tokens), as
 * LLaMA-Factory's supervised processor makes them.
 *
 * @param inputIds the token ids
 * @param labels the same length: the id to predict at each position, or {@link #IGNORE}
 */
public record SftExample(long[] inputIds, long[] labels) {
    /** The label of a position that takes no loss, PyTorch's {@code ignore_index}. */
    public static final long IGNORE = -100;

    /** Copies the arrays and checks that they have the same length. */
    public SftExample {
        inputIds = inputIds.clone();
        labels = labels.clone();
        if (inputIds.length != labels.length) {
            throw new IllegalArgumentException(inputIds.length + " input ids but " + labels.length + " labels");
        }
    }

    /** Returns the number of tokens. */
    public int length() {
        return inputIds.length;
    }

    /** Returns the number of positions that take a loss. */
    public long learnedTokens() {
        return Arrays.stream(labels).filter(l -> l != IGNORE).count();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SftExample e && Arrays.equals(inputIds, e.inputIds) && Arrays.equals(labels, e.labels);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(labels);
    }

    @Override
    public String toString() {
        return "SftExample" + Arrays.toString(inputIds) + " labels " + Arrays.toString(labels);
    }
}
