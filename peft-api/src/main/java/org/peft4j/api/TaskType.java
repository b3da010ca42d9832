package org.peft4j.api;

/** The task a PEFT model is adapted for, as Hugging Face PEFT's {@code task_type} names it. */
public enum TaskType {
    /** Sequence classification: one label per input text. */
    SEQ_CLS,
    /** Token classification: one label per token. */
    TOKEN_CLS,
    /** Causal language modelling. */
    CAUSAL_LM,
    /** Sequence-to-sequence language modelling. */
    SEQ_2_SEQ_LM,
    /** Extractive question answering. */
    QUESTION_ANS,
    /** Embeddings or hidden states, no head. */
    FEATURE_EXTRACTION
}
