package org.peft4j.djl.internal;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.VirtualTokenBlock;
import org.peft4j.djl.VirtualTokenHost;

/**
 * What prompt- and prefix-tuning adapters share: a {@link VirtualTokenBlock} attached to the
 * model's {@link VirtualTokenHost} while the adapter is active and enabled, modules trained and
 * saved alongside, and the single tensor {@value #TOKENS_KEY} under which Hugging Face PEFT saves
 * the virtual tokens. Such adapters cannot be merged into the base weights.
 */
public abstract class VirtualTokenAdapter implements AttachedAdapter {
    /** The key Hugging Face PEFT saves prompt and prefix tokens under. */
    public static final String TOKENS_KEY = "prompt_embeddings";

    private final String name;
    private final VirtualTokenHost host;
    private final VirtualTokenBlock block;
    private final SavedModules savedModules;
    private boolean active;
    private boolean disabled;

    /** Creates the adapter; it is attached to the host only once activated. */
    protected VirtualTokenAdapter(String name, VirtualTokenHost host, VirtualTokenBlock block, SavedModules savedModules) {
        this.name = name;
        this.host = host;
        this.block = block;
        this.savedModules = savedModules;
    }

    /**
     * Returns the one {@link VirtualTokenHost} in the tree under {@code root} (the root itself or a
     * descendant).
     *
     * @throws IllegalArgumentException if there is none, or more than one
     */
    public static VirtualTokenHost findHost(Block root, PeftConfig config) {
        List<VirtualTokenHost> hosts = new ArrayList<>();
        if (root instanceof VirtualTokenHost) {
            hosts.add((VirtualTokenHost) root);
        }
        ModuleTree.modules(root).values().forEach(b -> {
            if (b instanceof VirtualTokenHost) {
                hosts.add((VirtualTokenHost) b);
            }
        });
        if (hosts.size() != 1) {
            throw new IllegalArgumentException(config.peftType() + " needs exactly one transformer block that implements "
                    + VirtualTokenHost.class.getSimpleName() + " (such as the BERT encoder, BertModel) in the model; "
                    + "this one (" + root.getClass().getSimpleName() + ") has " + hosts.size());
        }
        return hosts.get(0);
    }

    /**
     * Checks that saved tensors hold exactly {@value #TOKENS_KEY} of the given shape and the
     * modules to save.
     *
     * @throws AdapterFormatException naming every missing, unexpected or mis-shaped tensor
     */
    public static void checkSaved(Map<String, Tensor> saved, long[] tokenShape, SavedModules modules) {
        List<String> problems = new ArrayList<>();
        Tensor tokens = saved.get(TOKENS_KEY);
        if (tokens == null) {
            problems.add("the adapter has no tensor \"" + TOKENS_KEY + "\"");
        } else if (!Arrays.equals(tokens.shape(), tokenShape)) {
            problems.add("\"" + TOKENS_KEY + "\" expected shape " + Arrays.toString(tokenShape) + ", found "
                    + Arrays.toString(tokens.shape()));
        }
        modules.check(saved, problems);
        TreeSet<String> unexpected = new TreeSet<>(saved.keySet());
        unexpected.remove(TOKENS_KEY);
        unexpected.removeAll(modules.keys());
        if (!unexpected.isEmpty()) {
            problems.add("tensors that match nothing in this model: " + unexpected);
        }
        if (!problems.isEmpty()) {
            throw new AdapterFormatException("the adapter does not fit this model: " + String.join("; ", problems));
        }
    }

    /** Returns the virtual tokens as Hugging Face PEFT saves them. */
    protected abstract Tensor savedTokens();

    /** Returns the block that produces the virtual tokens. */
    public VirtualTokenBlock block() {
        return block;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Parameter> trainableParameterList() {
        List<Parameter> out = new ArrayList<>(block.getParameters().values());
        out.addAll(savedModules.parameters());
        return out;
    }

    @Override
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put(TOKENS_KEY, savedTokens());
        out.putAll(savedModules.stateDict());
        return out;
    }

    @Override
    public void setActive(boolean active) {
        this.active = active;
        attachIfUsed();
    }

    @Override
    public void setDisabled(boolean disabled) {
        this.disabled = disabled;
        attachIfUsed();
    }

    private void attachIfUsed() {
        if (active && !disabled) {
            host.setVirtualTokens(block);
        } else if (host.virtualTokens() == block) {
            host.setVirtualTokens(null);
        }
    }

    @Override
    public void merge() {
        throw new IllegalStateException(config().peftType() + " adapters cannot be merged into the base weights;"
                + " only LoRA adapters can");
    }

    @Override
    public void unmerge() {
        // never merged
    }

    @Override
    public boolean isMerged() {
        return false;
    }

    @Override
    public void remove(boolean keepMergedWeights) {
        setActive(false);
        if (!keepMergedWeights) {
            savedModules.restore();
        }
        block.getParameters().values().forEach(Parameter::close);
    }
}
