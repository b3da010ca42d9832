package org.peft4j.djl;

import ai.djl.nn.Block;
import java.io.IOException;
import java.nio.file.Path;
import org.peft4j.api.PeftConfig;

/**
 * The entry point: one call turns an existing DJL block tree into a {@link PeftModel}, with
 * LoRA on any tree of {@code Linear} layers, or prompt- or prefix-tuning on a tree holding a
 * {@link VirtualTokenHost} (such as the BERT encoder, {@code BertModel}).
 *
 * <pre>{@code
 * LoraConfig cfg = LoraConfig.builder().optR(8).optLoraAlpha(16).setTargetModules("query", "value").build();
 * PeftModel peft = Peft.apply(model.getBlock(), cfg);   // freezes the base, injects LoRA
 * System.out.println(peft.trainableParameters());
 * }</pre>
 */
public final class Peft {
    private Peft() {}

    /**
     * Attaches a new adapter named {@value PeftModel#DEFAULT_ADAPTER} to an initialized block tree,
     * freezing every base parameter.
     *
     * @throws IllegalArgumentException if the config does not fit the model; the model is then unchanged
     */
    public static PeftModel apply(Block block, PeftConfig config) {
        return apply(block, config, PeftModel.DEFAULT_ADAPTER);
    }

    /** Attaches a new adapter with the given name to an initialized block tree, freezing every base parameter. */
    public static PeftModel apply(Block block, PeftConfig config, String adapterName) {
        return apply(block, config, adapterName, null);
    }

    /**
     * Attaches a new adapter with the given name, with the model's tokenizer for prompt-tuning's
     * TEXT init (null if not needed), freezing every base parameter.
     */
    public static PeftModel apply(Block block, PeftConfig config, String adapterName, TextTokenizer tokenizer) {
        PeftModel model = new PeftModel(block, tokenizer);
        model.addAdapter(adapterName, config);
        return model;
    }

    /**
     * Loads an adapter saved in Hugging Face PEFT's layout onto an initialized block tree, as
     * Python's {@code PeftModel.from_pretrained} does.
     *
     * @throws org.peft4j.api.AdapterFormatException if the files are malformed or do not
     *     fit the model; the model is then unchanged
     * @throws IOException if the files cannot be read
     */
    public static PeftModel load(Block block, Path adapterDirectory) throws IOException {
        PeftModel model = new PeftModel(block, null);
        model.loadAdapter(adapterDirectory, PeftModel.DEFAULT_ADAPTER);
        return model;
    }

    /**
     * Attaches an adapter already read into memory (from a file, or kept inside another format)
     * to {@code block}, as {@link #load(Block, Path)} does; {@code source} names it in messages.
     *
     * @throws org.peft4j.api.AdapterFormatException if it does not fit the model; the
     *     model is then unchanged
     */
    public static PeftModel load(Block block, org.peft4j.api.checkpoint.AdapterCheckpoint adapter, String source) {
        PeftModel model = new PeftModel(block, null);
        model.loadAdapter(adapter, PeftModel.DEFAULT_ADAPTER, source);
        return model;
    }
}
