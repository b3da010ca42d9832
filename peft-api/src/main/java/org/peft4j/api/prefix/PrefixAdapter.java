package org.peft4j.api.prefix;

import org.peft4j.api.Adapter;

/** A prefix-tuning adapter: key and value prefixes in front of every attention layer's own. */
public interface PrefixAdapter extends Adapter {
    @Override
    PrefixTuningConfig config();

    /** Returns the number of virtual tokens n. */
    default int numVirtualTokens() {
        return config().numVirtualTokens();
    }

    /** Returns the number of attention layers that get prefixes. */
    int numLayers();

    /** Returns the width of each prefix vector, the model's hidden size. */
    int tokenDim();
}
