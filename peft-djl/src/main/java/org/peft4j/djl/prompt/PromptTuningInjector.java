package org.peft4j.djl.prompt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.prompt.PromptTuningConfig;
import org.peft4j.api.prompt.PromptTuningInit;
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
 * Puts a prompt-tuning adapter on the model's {@link VirtualTokenHost}: n virtual-token embeddings
 * [n, hidden] that start as Hugging Face PEFT starts them: RANDOM from N(0, 1) like a new
 * {@code nn.Embedding}; TEXT from the word embeddings of the init text's token ids (special tokens
 * included, as the tokenizer returns them), repeated or cut to n; SAMPLE_VOCAB from the word
 * embeddings of n ids drawn uniformly from the vocabulary.
 */
public final class PromptTuningInjector implements DjlMethod {
    /** Creates the method's injector; {@link org.peft4j.djl.PeftModel} finds it as a service. */
    public PromptTuningInjector() {}

    @Override
    public PeftType peftType() {
        return PeftType.PROMPT_TUNING;
    }

    @Override
    public AttachedAdapter attach(Block root, String name, PeftConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer) {
        return attach(root, name, (PromptTuningConfig) config, saved, tokenizer);
    }

    /**
     * Attaches a prompt-tuning adapter, fresh or from {@code saved} tensors.
     *
     * @param tokenizer the model's tokenizer for TEXT init; if null, {@code tokenizer_name_or_path}
     *     must name a local tokenizer.json (or a directory holding one)
     * @return the adapter, not yet active
     * @throws IllegalArgumentException if the model has no virtual-token host or the config does not fit
     */
    public static AttachedAdapter attach(Block root, String name, PromptTuningConfig config, Map<String, Tensor> saved,
            TextTokenizer tokenizer) {
        VirtualTokenHost host = VirtualTokenAdapter.findHost(root, config);
        checkDimensions(host, config);
        PromptTuningConfig filled = config.withModelDimensions(host.hiddenSize(), host.numLayers(), host.numAttentionHeads());
        int n = config.numVirtualTokens();
        SavedModules modules = SavedModules.capture(SavedModules.find(ModuleTree.nodes(root), config.modulesToSave(), PeftType.PROMPT_TUNING));
        NDArray words = host.wordEmbeddings().getArray();
        NDManager manager = words.getManager();
        NDArray initial;
        if (saved != null) {
            VirtualTokenAdapter.checkSaved(saved, new long[] {n, host.hiddenSize()}, modules);
            initial = TensorConversions.toNDArray(manager, saved.get(VirtualTokenAdapter.TOKENS_KEY), words.getDataType());
            modules.load(saved);
        } else {
            initial = initialTokens(config, words, tokenizer);
            filled = withTokenizerName(filled);
        }
        return new DjlPromptAdapter(name, filled, host, new PromptEmbedding(initial), modules);
    }

    /**
     * A new TEXT-init config names its tokenizer, because PEFT refuses TEXT init without
     * {@code tokenizer_name_or_path} ({@code PromptTuningConfig.__post_init__} raises a
     * ValueError, also when loading): the base model's name stands in for it, as the tokenizer
     * comes with the base model.
     *
     * @throws IllegalArgumentException if neither name is set
     */
    private static PromptTuningConfig withTokenizerName(PromptTuningConfig config) {
        if (config.promptTuningInit() != PromptTuningInit.TEXT || config.tokenizerNameOrPath() != null) {
            return config;
        }
        if (config.baseModelNameOrPath() == null) {
            throw new IllegalArgumentException("prompt_tuning_init TEXT needs tokenizer_name_or_path or"
                    + " base_model_name_or_path: Python's PEFT refuses a TEXT-init adapter that names no tokenizer");
        }
        return config.withTokenizerNameOrPath(config.baseModelNameOrPath());
    }

    private static void checkDimensions(VirtualTokenHost host, PromptTuningConfig config) {
        if (config.tokenDim() != null && config.tokenDim() != host.hiddenSize()) {
            throw new IllegalArgumentException("token_dim " + config.tokenDim() + " does not match the model's hidden size "
                    + host.hiddenSize());
        }
    }

    private static NDArray initialTokens(PromptTuningConfig config, NDArray words, TextTokenizer tokenizer) {
        int n = config.numVirtualTokens();
        long vocab = words.getShape().get(0);
        NDManager manager = words.getManager();
        switch (config.promptTuningInit()) {
            case RANDOM:
                return manager.randomNormal(0, 1, new Shape(n, words.getShape().get(1)), words.getDataType());
            case SAMPLE_VOCAB:
                return rows(words, manager.randomInteger(0, vocab, new Shape(n), DataType.INT64).toLongArray());
            case TEXT:
                long[] ids = initTextIds(config, tokenizer);
                if (ids.length == 0) {
                    throw new IllegalArgumentException("prompt_tuning_init_text \"" + config.promptTuningInitText()
                            + "\" has no tokens");
                }
                long[] repeated = new long[n];
                for (int i = 0; i < n; i++) {
                    repeated[i] = ids[i % ids.length];
                }
                return rows(words, repeated);
            default:
                throw new IllegalArgumentException("unknown prompt_tuning_init " + config.promptTuningInit());
        }
    }

    /** Copies the given rows of the word embedding table into a new array. */
    private static NDArray rows(NDArray words, long[] ids) {
        try (NDScope scope = new NDScope()) {
            NDArray copy = words.stopGradient().get(words.getManager().create(ids)).duplicate();
            NDScope.unregister(copy);
            return copy;
        }
    }

    private static long[] initTextIds(PromptTuningConfig config, TextTokenizer given) {
        String text = config.promptTuningInitText();
        if (given != null) {
            return given.ids(text);
        }
        String path = config.tokenizerNameOrPath();
        if (path != null) {
            Path file = Files.isDirectory(Path.of(path)) ? Path.of(path, "tokenizer.json") : Path.of(path);
            if (Files.isRegularFile(file)) {
                try {
                    return TextTokenizer.ids(file, text);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        throw new IllegalArgumentException("prompt_tuning_init TEXT needs the model's tokenizer: pass one to"
                + " Peft.apply, or set tokenizer_name_or_path to a local tokenizer.json (got " + path + ")");
    }
}
