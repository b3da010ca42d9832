package org.peft4j.djl;

import ai.djl.nn.Block;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.util.Pair;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Stable, human-readable paths for every block in a DJL block tree, in the dotted form Hugging
 * Face uses for PyTorch modules ({@code encoder.layer.0.attention.self.query}). These paths are
 * what {@code target_modules} matches and what the tensor keys of a saved adapter contain.
 *
 * <p>DJL stores each child under a key made of its 1-based position and the name it was added
 * with ({@code "01query"}, {@code "02Linear"}). A child's path segment is:
 * <ul>
 *   <li>inside a {@link SequentialBlock} or {@link ParallelBlock}: its 0-based position
 *       ({@code "0"}, {@code "1"}, ...), as in PyTorch's {@code nn.Sequential};
 *   <li>elsewhere: the name it was added with, the position prefix removed ({@code "query"});
 *       if two siblings were added with the same name, their 0-based positions instead.
 * </ul>
 * The root block has the empty path; a child's path is its parent's path, a dot, and its segment.
 */
public final class ModuleTree {
    private ModuleTree() {}

    /** Returns every block below {@code root} (the root itself excluded) by path, in tree order. */
    public static Map<String, Block> modules(Block root) {
        Map<String, Block> out = new LinkedHashMap<>();
        walk(root, (path, node) -> out.put(path, node.block));
        return Collections.unmodifiableMap(out);
    }

    /** A block found in the tree together with its parent and its path. */
    public static final class Node {
        public final String path;
        public final Block parent;
        public final Block block;

        Node(String path, Block parent, Block block) {
            this.path = path;
            this.parent = parent;
            this.block = block;
        }
    }

    /** Returns every block below {@code root} with its parent, by path, in tree order. */
    public static Map<String, Node> nodes(Block root) {
        Map<String, Node> out = new LinkedHashMap<>();
        walk(root, out::put);
        return out;
    }

    private static void walk(Block root, BiConsumer<String, Node> visitor) {
        walk(root, "", visitor);
    }

    private static void walk(Block parent, String prefix, BiConsumer<String, Node> visitor) {
        PairList<String, Block> children = parent.getChildren();
        List<String> segments = segments(parent, children);
        for (int i = 0; i < children.size(); i++) {
            Block child = children.valueAt(i);
            String path = prefix.isEmpty() ? segments.get(i) : prefix + "." + segments.get(i);
            visitor.accept(path, new Node(path, parent, child));
            walk(child, path, visitor);
        }
    }

    /** Returns the path segment of each child of {@code parent}, in order. */
    static List<String> segments(Block parent, PairList<String, Block> children) {
        List<String> names = new ArrayList<>(children.size());
        boolean positional = parent instanceof SequentialBlock || parent instanceof ParallelBlock;
        Map<String, Integer> counts = new HashMap<>();
        for (int i = 0; i < children.size(); i++) {
            String name = positional ? Integer.toString(i) : addedName(children.get(i), i);
            names.add(name);
            counts.merge(name, 1, Integer::sum);
        }
        for (int i = 0; i < names.size(); i++) {
            if (counts.get(names.get(i)) > 1 || names.get(i).isEmpty()) {
                names.set(i, Integer.toString(i));
            }
        }
        return names;
    }

    /** Removes DJL's position prefix ({@code %02d} of the 1-based position) from a child key. */
    private static String addedName(Pair<String, Block> child, int index) {
        String key = child.getKey();
        String prefix = String.format(Locale.ROOT, "%02d", index + 1);
        return key.startsWith(prefix) ? key.substring(prefix.length()) : key;
    }
}
