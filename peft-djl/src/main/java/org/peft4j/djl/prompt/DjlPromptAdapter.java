package org.peft4j.djl.prompt;

import org.peft4j.api.prompt.PromptAdapter;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.VirtualTokenHost;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.internal.VirtualTokenAdapter;

/** A prompt-tuning adapter attached to a {@link VirtualTokenHost}. */
final class DjlPromptAdapter extends VirtualTokenAdapter implements PromptAdapter {
    private final PromptTuningConfig config;
    private final PromptEmbedding prompt;

    DjlPromptAdapter(String name, PromptTuningConfig config, VirtualTokenHost host, PromptEmbedding prompt,
            SavedModules savedModules) {
        super(name, host, prompt, savedModules);
        this.config = config;
        this.prompt = prompt;
    }

    @Override
    public PromptTuningConfig config() {
        return config;
    }

    @Override
    public int tokenDim() {
        return config.tokenDim();
    }

    @Override
    protected Tensor savedTokens() {
        return TensorConversions.toTensor(prompt.embedding().getArray());
    }
}
