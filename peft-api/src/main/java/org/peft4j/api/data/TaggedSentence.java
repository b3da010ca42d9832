package org.peft4j.api.data;

import java.util.List;

/**
 * One example of a token-classification (tagging) data set, such as named-entity recognition: a
 * sentence already split into words, and one tag per word ({@code B-PER}, {@code I-PER}, {@code O}, ...).
 *
 * @param tokens the words, in order
 * @param tags the tag of each word, as the data names it
 */
public record TaggedSentence(List<String> tokens, List<String> tags) {
    /**
     * Copies the lists and requires as many tags as tokens, and at least one token.
     *
     * @throws IllegalArgumentException if the counts differ or there are no tokens
     */
    public TaggedSentence {
        tokens = List.copyOf(tokens);
        tags = List.copyOf(tags);
        if (tokens.size() != tags.size()) {
            throw new IllegalArgumentException(tokens.size() + " tokens but " + tags.size() + " tags");
        }
        if (tokens.isEmpty()) {
            throw new IllegalArgumentException("a tagged sentence needs at least one token");
        }
    }

    /** Returns the number of words. */
    public int size() {
        return tokens.size();
    }
}
