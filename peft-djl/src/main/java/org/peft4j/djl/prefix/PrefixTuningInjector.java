package org.peft4j.djl.prefix;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import java.util.Map;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.DjlMethod;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.TextTokenizer;
import org.peft4j.djl.VirtualTokenHost;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.internal.VirtualTokenAdapter;

/**
 * Puts a prefix-tuning adapter on the model's {@link VirtualTokenHost}. A fresh adapter starts as
 * Hugging Face PEFT's does: its embedding from N(0, 1) like a new {@code nn.Embedding}, [n, hidden]
 * under a projection MLP, else [n, layers·2·hidden]. A saved adapter holds the prefixes
 * themselves and loads without the MLP.
 */
public final class PrefixTuningInjector implements DjlMethod {
    /** Creates the method's injector; {@link org.peft4j.djl.PeftModel} finds it as a service. */
    public PrefixTuningInjector() {}

    @Override
    public PeftType peftType() {
        return PeftType.PREFIX_TUNING;
    }

    @Override
    public AttachedAdapter attach(Block root, String name, PeftConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer) {
        return attach(root, name, (PrefixTuningConfig) config, saved);
    }

    /**
     * Attaches a prefix-tuning adapter, fresh or from {@code saved} tensors.
     *
     * @return the adapter, not yet active
     * @throws IllegalArgumentException if the model has no virtual-token host or the config does not fit
     */
    public static AttachedAdapter attach(Block root, String name, PrefixTuningConfig config, Map<String, Tensor> saved) {
        VirtualTokenHost host = VirtualTokenAdapter.findHost(root, config);
        int hidden = host.prefixWidth();
        if (config.tokenDim() != null && config.tokenDim() != hidden
                || config.numLayers() != null && config.numLayers() != host.numLayers()) {
            throw new IllegalArgumentException("token_dim " + config.tokenDim() + " and num_layers " + config.numLayers()
                    + " do not match the model's prefix width " + hidden + " and " + host.numLayers() + " layers");
        }
        PrefixTuningConfig filled = config.withModelDimensions(hidden, host.numLayers(), host.prefixHeads());
        int n = config.numVirtualTokens();
        long width = 2L * host.numLayers() * hidden;
        SavedModules modules = SavedModules.capture(SavedModules.find(ModuleTree.nodes(root), config.modulesToSave(), PeftType.PREFIX_TUNING));
        NDArray words = host.wordEmbeddings().getArray();
        NDManager manager = words.getManager();
        PrefixEncoder encoder;
        if (saved != null) {
            VirtualTokenAdapter.checkSaved(saved, new long[] {n, width}, modules);
            NDArray prefixes = TensorConversions.toNDArray(manager, saved.get(VirtualTokenAdapter.TOKENS_KEY),
                    words.getDataType());
            modules.load(saved);
            encoder = new PrefixEncoder(prefixes);
        } else if (config.prefixProjection()) {
            int encoderHidden = config.encoderHiddenSize() != null ? config.encoderHiddenSize() : hidden;
            encoder = new PrefixEncoder(manager.randomNormal(0, 1, new Shape(n, hidden), words.getDataType()),
                    encoderHidden, width);
        } else {
            encoder = new PrefixEncoder(manager.randomNormal(0, 1, new Shape(n, width), words.getDataType()));
        }
        return new DjlPrefixAdapter(name, filled, host, encoder, modules);
    }
}
