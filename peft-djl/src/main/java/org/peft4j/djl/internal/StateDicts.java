package org.peft4j.djl.internal;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.djl.ModuleTree;

/**
 * Names every parameter of a DJL block tree as a PyTorch state dict does: the module path from
 * {@link ModuleTree}, a dot, and the parameter's name ({@code encoder.layer.0.attention.self.query.weight}).
 */
public final class StateDicts {
    private StateDicts() {}

    /** Returns every parameter of {@code root} by its state-dict name, in tree order. */
    public static Map<String, Parameter> namedParameters(Block root) {
        Map<String, Parameter> out = new LinkedHashMap<>();
        addDirect("", root, out);
        ModuleTree.modules(root).forEach((path, block) -> addDirect(path + ".", block, out));
        return out;
    }

    private static void addDirect(String prefix, Block block, Map<String, Parameter> out) {
        for (Pair<String, Parameter> p : block.getDirectParameters()) {
            out.put(prefix + p.getKey(), p.getValue());
        }
    }
}
