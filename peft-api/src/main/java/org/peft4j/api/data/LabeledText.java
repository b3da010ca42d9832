package org.peft4j.api.data;

import java.io.Serializable;
import java.util.Objects;

/**
 * One example of a text-classification data set; serialisable, so that Spark can move it between tasks.
 *
 * @param text the input text
 * @param label the class, as the data names it ({@code "spam"})
 * @param split the part of the data it belongs to ({@code "train"}, {@code "dev"}, {@code "test"}), or null
 */
public record LabeledText(String text, String label, String split) implements Serializable {
    /** Requires a text and a label. */
    public LabeledText {
        Objects.requireNonNull(text, "text");
        Objects.requireNonNull(label, "label");
    }
}
