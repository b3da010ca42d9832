package org.peft4j.djl.models.bert;

import java.util.Locale;

/**
 * How a {@link BertSequenceClassifier} turns the encoder's output into logits. The name each one
 * is recorded under in adapter files and exported models is {@link #recordedName()}.
 */
public enum ClassifierHead {
    /**
     * Hugging Face's {@code BertForSequenceClassification}: classifier(dropout(tanh(pooler.dense(h[:, 0])))),
     * where h[:, 0] is the first position the layers saw ({@code [CLS]}, or under prompt-tuning the
     * first virtual token, as in PEFT). What Python runs; the default.
     */
    POOLER,
    /**
     * sentence-transformers' mean pooling of the real tokens' hidden states, then dropout and a
     * linear classifier. No Python class computes it: in Python, mean-pool {@code last_hidden_state}
     * under the attention mask and apply {@code classifier} to the result.
     */
    MEAN_POOLING;

    /** The name in files: {@code pooler} or {@code mean_pooling}. */
    public String recordedName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The head recorded under {@code name}.
     *
     * @throws IllegalArgumentException naming the known heads
     */
    public static ClassifierHead fromRecordedName(String name) {
        for (ClassifierHead head : values()) {
            if (head.recordedName().equals(name)) {
                return head;
            }
        }
        throw new IllegalArgumentException("unknown classifier head " + org.peft4j.api.internal.Excerpt.quote(name)
                + "; known: pooler, mean_pooling");
    }
}
