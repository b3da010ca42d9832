package org.peft4j.djl;

import ai.djl.nn.AbstractBlock;

/**
 * A block that hosts prompt- and prefix-tuning ({@link VirtualTokenHost}) and keeps the attached
 * {@link VirtualTokenBlock} as its child {@code prompt_encoder}, replacing any other, so that the
 * virtual tokens' parameters are the block's own (trained, saved, moved with it). The families'
 * models extend it and read {@link #virtualTokens()} on every forward pass.
 */
public abstract class VirtualTokenHostBlock extends AbstractBlock implements VirtualTokenHost {
    /** The child name of the attached virtual-token block, as PEFT names its module. */
    public static final String CHILD_NAME = "prompt_encoder";

    private VirtualTokenBlock virtualTokens;

    @Override
    public VirtualTokenBlock virtualTokens() {
        return virtualTokens;
    }

    @Override
    public void setVirtualTokens(VirtualTokenBlock block) {
        if (virtualTokens != null) {
            children.remove(children.values().indexOf(virtualTokens));
        }
        virtualTokens = block;
        if (block != null) {
            addChildBlock(CHILD_NAME, block);
        }
    }
}
