package org.peft4j.api.prompt;

import org.peft4j.api.Adapter;

/** A prompt-tuning adapter: n virtual-token embeddings in front of the input. */
public interface PromptAdapter extends Adapter {
    @Override
    PromptTuningConfig config();

    /** Returns the number of virtual tokens n. */
    default int numVirtualTokens() {
        return config().numVirtualTokens();
    }

    /** Returns the width of each virtual token, the model's hidden size. */
    int tokenDim();
}
