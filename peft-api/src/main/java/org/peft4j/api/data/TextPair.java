package org.peft4j.api.data;

import java.util.Objects;

/**
 * One example of a retrieval or similarity data set: a text and a text that belongs with it, such
 * as a question and its answer, or a mail's subject and its body.
 *
 * @param anchor the query side
 * @param positive the passage that belongs with the anchor
 * @param split the part of the data it belongs to ({@code "train"}, {@code "dev"}, {@code "test"}), or null
 */
public record TextPair(String anchor, String positive, String split) {
    /** Requires both texts. */
    public TextPair {
        Objects.requireNonNull(anchor, "anchor");
        Objects.requireNonNull(positive, "positive");
    }
}
