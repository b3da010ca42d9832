package org.peft4j.djl.prefix;

import ai.djl.ndarray.NDScope;
import org.peft4j.api.prefix.PrefixAdapter;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.VirtualTokenHost;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.internal.VirtualTokenAdapter;

/**
 * A prefix-tuning adapter attached to a {@link VirtualTokenHost}. With a projection MLP it saves
 * the MLP's output, as Hugging Face PEFT does, so a saved adapter loads without the MLP.
 */
final class DjlPrefixAdapter extends VirtualTokenAdapter implements PrefixAdapter {
    private final PrefixTuningConfig config;
    private final PrefixEncoder encoder;

    DjlPrefixAdapter(String name, PrefixTuningConfig config, VirtualTokenHost host, PrefixEncoder encoder,
            SavedModules savedModules) {
        super(name, host, encoder, savedModules);
        this.config = config;
        this.encoder = encoder;
    }

    @Override
    public PrefixTuningConfig config() {
        return config;
    }

    @Override
    public int numLayers() {
        return config.numLayers();
    }

    @Override
    public int tokenDim() {
        return config.tokenDim();
    }

    @Override
    protected Tensor savedTokens() {
        try (NDScope scope = new NDScope()) {
            return TensorConversions.toTensor(encoder.currentPrefixes());
        }
    }
}
