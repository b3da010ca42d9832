package org.peft4j.djl.internal;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.util.Pair;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.PeftType;
import org.peft4j.api.internal.ModulePatterns;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.ModuleTree;

/**
 * Base parameters that an adapter trains in place and saves with itself (Hugging Face PEFT's
 * {@code modules_to_save}, and LoRA's trainable biases), keyed as PEFT saves them, with their
 * original values so that removing the adapter restores them.
 *
 * <p>The keys' prefix depends on the method, as in PEFT, where a LoRA-style method wraps the model
 * ({@code base_model.model.classifier.weight}) and a prompt-learning method leaves it unwrapped
 * ({@code base_model.classifier.weight}; {@code PeftModel.base_model} is the model itself there).
 * Loading accepts either prefix, as PEFT's {@code set_peft_model_state_dict} does.
 */
public final class SavedModules {
    /** The prefix PEFT puts before module paths in a LoRA-style adapter: {@value}. */
    public static final String KEY_PREFIX = "base_model.model.";
    /** The prefix PEFT puts before module paths in a prompt-learning adapter: {@value}. */
    public static final String PROMPT_LEARNING_KEY_PREFIX = "base_model.";
    /**
     * The entries PEFT adds to {@code modules_to_save} by itself for sequence classification
     * ({@code PeftModelForSequenceClassification.__init__}); adapters from Python list them whether
     * or not the model has such a module, so one that matches nothing is not an error.
     */
    private static final java.util.Set<String> TASK_HEAD_NAMES = java.util.Set.of("classifier", "score");

    private static final int MAX_LISTED_MODULES = 400;

    private final Map<String, Parameter> parameters;
    private final Map<String, Tensor> originals;

    private SavedModules(Map<String, Parameter> parameters) {
        this.parameters = Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        this.originals = new LinkedHashMap<>();
        parameters.forEach((key, p) -> originals.put(key, TensorConversions.toTensor(p.getArray())));
    }

    /** Records the current values of {@code parameters} (keyed as saved) as the originals. */
    public static SavedModules capture(Map<String, Parameter> parameters) {
        return new SavedModules(parameters);
    }

    /** The key prefix of a method's saved modules: {@link #KEY_PREFIX} or {@link #PROMPT_LEARNING_KEY_PREFIX}. */
    public static String keyPrefix(PeftType method) {
        return PeftMethods.forType(method).isPromptLearning() ? PROMPT_LEARNING_KEY_PREFIX : KEY_PREFIX;
    }

    /**
     * Returns every parameter of the modules that {@code names} select (each name matching the end
     * of a module path), keyed as Hugging Face PEFT saves them for {@code method}. Repeated names
     * count once (PEFT writes some twice).
     *
     * @throws IllegalArgumentException if a name matches no module; the message lists the modules
     */
    public static Map<String, Parameter> find(Map<String, ModuleTree.Node> nodes, List<String> names, PeftType method) {
        String prefix = keyPrefix(method);
        Map<String, Parameter> out = new LinkedHashMap<>();
        for (String wanted : new java.util.LinkedHashSet<>(names)) {
            boolean found = false;
            for (Map.Entry<String, ModuleTree.Node> e : nodes.entrySet()) {
                if (ModulePatterns.nameMatches(wanted, e.getKey())) {
                    found = true;
                    addParameters(prefix, e.getKey(), e.getValue().block, out);
                }
            }
            if (!found && !TASK_HEAD_NAMES.contains(wanted)) {
                throw new IllegalArgumentException("modules_to_save entry \"" + wanted
                        + "\" matched no module. The model's modules are: " + describe(nodes));
            }
        }
        return out;
    }

    private static void addParameters(String prefix, String modulePath, Block module, Map<String, Parameter> out) {
        for (Pair<String, Parameter> p : module.getDirectParameters()) {
            out.put(prefix + modulePath + "." + huggingFaceName(p.getKey()), p.getValue());
        }
        ModuleTree.nodes(module).forEach((sub, node) -> {
            for (Pair<String, Parameter> p : node.block.getDirectParameters()) {
                out.put(prefix + modulePath + "." + sub + "." + huggingFaceName(p.getKey()), p.getValue());
            }
        });
    }

    /**
     * The saved tensor for {@code key}, under either prefix: PEFT loads {@code base_model.model.}
     * keys into an unwrapped model and the reverse (its {@code set_peft_model_state_dict}).
     */
    private static Tensor lookup(Map<String, Tensor> saved, String key) {
        Tensor t = saved.get(key);
        if (t != null) {
            return t;
        }
        if (key.startsWith(KEY_PREFIX)) {
            return saved.get(PROMPT_LEARNING_KEY_PREFIX + key.substring(KEY_PREFIX.length()));
        }
        return key.startsWith(PROMPT_LEARNING_KEY_PREFIX)
                ? saved.get(KEY_PREFIX + key.substring(PROMPT_LEARNING_KEY_PREFIX.length()))
                : null;
    }

    /** Maps DJL's parameter names to PyTorch's (DJL's LayerNorm gamma and beta are weight and bias there). */
    private static String huggingFaceName(String djlName) {
        switch (djlName) {
            case "gamma":
            case "embedding":
                return "weight";
            case "beta":
                return "bias";
            case "runningMean":
                return "running_mean";
            case "runningVar":
                return "running_var";
            default:
                return djlName;
        }
    }

    /** Lists the module paths of a tree with their block types, for error messages. */
    public static String describe(Map<String, ModuleTree.Node> nodes) {
        if (nodes.isEmpty()) {
            return "(none: the block has no children)";
        }
        List<String> listed = nodes.entrySet().stream()
                .limit(MAX_LISTED_MODULES)
                .map(e -> e.getKey() + " (" + e.getValue().block.getClass().getSimpleName() + ")")
                .collect(Collectors.toList());
        String more = nodes.size() > MAX_LISTED_MODULES ? ", ... (" + nodes.size() + " in all)" : "";
        return String.join(", ", listed) + more;
    }

    /** Returns the expected shape of every saved tensor, by key. */
    public Map<String, long[]> expectedShapes() {
        Map<String, long[]> out = new LinkedHashMap<>();
        parameters.forEach((key, p) -> out.put(key, p.getArray().getShape().getShape()));
        return out;
    }

    /** Adds a problem for each of this set's tensors that {@code saved} lacks or holds in another shape. */
    public void check(Map<String, Tensor> saved, List<String> problems) {
        expectedShapes().forEach((key, shape) -> {
            Tensor t = lookup(saved, key);
            if (t == null) {
                problems.add("the adapter has no tensor \"" + key + "\"");
            } else if (!Arrays.equals(t.shape(), shape)) {
                problems.add("\"" + key + "\" expected shape " + Arrays.toString(shape) + ", found " + Arrays.toString(t.shape()));
            }
        });
    }

    /** Returns the parameters, in key order. */
    public List<Parameter> parameters() {
        return new ArrayList<>(parameters.values());
    }

    /** Returns the keys of the saved tensors. */
    public java.util.Set<String> keys() {
        return parameters.keySet();
    }

    /** Returns the current values, keyed as saved. */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        parameters.forEach((key, p) -> out.put(key, TensorConversions.toTensor(p.getArray())));
        return out;
    }

    /** Copies saved values (already checked with {@link #check}) into the parameters. */
    public void load(Map<String, Tensor> saved) {
        parameters.forEach((key, p) -> TensorConversions.copyInto(lookup(saved, key), p.getArray()));
    }

    /** Puts the original values back. */
    public void restore() {
        parameters.forEach((key, p) -> TensorConversions.copyInto(originals.get(key), p.getArray()));
    }
}
