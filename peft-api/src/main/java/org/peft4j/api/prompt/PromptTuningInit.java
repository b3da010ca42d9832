package org.peft4j.api.prompt;

/** How prompt-tuning's virtual-token embeddings start, as Hugging Face PEFT's {@code prompt_tuning_init}. */
public enum PromptTuningInit {
    /** Random values. */
    RANDOM,
    /** The word embeddings of an init text, repeated or cut to the number of virtual tokens. */
    TEXT,
    /** The word embeddings of tokens drawn at random from the vocabulary. */
    SAMPLE_VOCAB
}
