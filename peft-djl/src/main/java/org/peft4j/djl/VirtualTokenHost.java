package org.peft4j.djl;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;

/**
 * The small interface a transformer block implements to accept prompt-tuning and prefix-tuning,
 * as the BERT encoder ({@code BertModel}) does. The block keeps at most one
 * {@link VirtualTokenBlock} (the active adapter's) as its child {@code prompt_encoder}, and on
 * every forward pass:
 * <ul>
 *   <li>for {@link VirtualTokenBlock.Kind#PROMPT}: puts the n rows [n, hidden] in front of the
 *       input's word embeddings (positions and token types then count them as ordinary tokens),
 *       extends the attention mask by n ones, and drops the n positions from its output;
 *   <li>for {@link VirtualTokenBlock.Kind#PREFIX}: splits the [n, layers·2·w] rows (w =
 *       {@link #prefixWidth()}) into a key and a value prefix [n, w] per layer (layer l's key is
 *       columns [2l·w, (2l+1)·w), its value the next w columns, Hugging Face's layout), puts them in
 *       front of that layer's own keys and values, and extends the mask its attention sees by n ones.
 * </ul>
 */
public interface VirtualTokenHost extends Block {
    /** Returns the hidden size, the width of every virtual token. */
    int hiddenSize();

    /** Returns the number of attention layers. */
    int numLayers();

    /** Returns the number of attention heads per layer. */
    int numAttentionHeads();

    /**
     * Returns the width of one layer's key (or value) prefix per virtual token, PEFT's
     * {@code token_dim} for prefix-tuning: the hidden size, or under grouped-query attention the
     * key/value heads times the head size ({@code peft/utils/other.py},
     * {@code _prepare_prompt_learning_config}: "For grouped-query attention, see #1901").
     */
    default int prefixWidth() {
        return hiddenSize();
    }

    /** Returns the heads a layer's prefix is split into: the attention heads, or the key/value heads. */
    default int prefixHeads() {
        return numAttentionHeads();
    }

    /** Returns the word embedding table [vocab, hidden], read to start prompts from text or vocabulary. */
    Parameter wordEmbeddings();

    /** Attaches the block that produces the virtual tokens, replacing any other; null detaches it. */
    void setVirtualTokens(VirtualTokenBlock block);

    /** Returns the attached virtual-token block, or null. */
    VirtualTokenBlock virtualTokens();
}
