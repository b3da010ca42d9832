package org.peft4j.djl;

/**
 * Turns text into the model's token ids, as its tokenizer does with special tokens included;
 * prompt-tuning's TEXT init reads the word embeddings of these ids.
 * {@link org.peft4j.djl.bert.BertTokenizer} is one.
 */
@FunctionalInterface
public interface TextTokenizer {
    /** Returns the token ids of {@code text}. */
    long[] ids(String text);
}
