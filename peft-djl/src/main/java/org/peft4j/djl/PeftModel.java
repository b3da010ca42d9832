package org.peft4j.djl;

import ai.djl.Model;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.util.Pair;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;
import org.peft4j.api.Adapter;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftType;
import org.peft4j.api.TrainableParameters;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.algebra.CombinationType;
import org.peft4j.api.lora.algebra.WeightedAdapterMerge;
import org.peft4j.api.safetensors.Tensor;

/**
 * A DJL block tree with PEFT adapters attached, as {@link Peft#apply} returns it. The block tree is
 * changed in place, so the {@code Model} that holds it, DJL's {@code Trainer} and
 * {@code EasyTrain} keep working unchanged; every base parameter is frozen, and only the active
 * adapter's parameters receive gradients and optimizer state.
 *
 * <p>Several named adapters can live on one model; one is active at a time. An adapter can be
 * merged into the base weights for inference at the base model's cost, bypassed for a scope with
 * {@link #disableAdapters()}, saved in Hugging Face PEFT's layout and loaded back.
 *
 * <p>DJL's {@code Model.newTrainer} unfreezes every parameter of a model that was loaded from
 * disk: create trainers with {@link #newTrainer(Model, TrainingConfig)}, or call
 * {@link #freezeBase()} after {@code newTrainer}.
 *
 * <p>DJL's {@code Model.save} (which DJL's checkpoint listeners call) works with adapters attached:
 * the file holds the base and every adapter, and {@code Model.load} reads it back into a model to
 * which the same adapters were applied first. A plain model of the base architecture cannot read
 * it (DJL reports a malformed file); for such a file, {@link #mergeAndUnload()} first. For the
 * adapter alone, in the files Python reads, use {@link #saveAdapter(Path)}.
 *
 * <p>Not thread-safe: change adapters from one thread, and not while a forward pass runs.
 */
public final class PeftModel {
    /** The name an adapter gets when none is given, as in Hugging Face PEFT. */
    public static final String DEFAULT_ADAPTER = "default";

    private static final Pattern ADAPTER_NAME = Pattern.compile("[A-Za-z0-9_-]+");
    /** The methods registered in {@code META-INF/services/org.peft4j.djl.DjlMethod}. */
    private static final List<DjlMethod> METHODS = ServiceLoader.load(DjlMethod.class, PeftModel.class.getClassLoader())
            .stream().map(ServiceLoader.Provider::get).toList();

    private final Block block;
    private final TextTokenizer tokenizer;
    private final Map<String, AttachedAdapter> adapters = new LinkedHashMap<>();
    private String activeAdapter;

    PeftModel(Block block, TextTokenizer tokenizer) {
        this.block = Objects.requireNonNull(block, "block");
        this.tokenizer = tokenizer;
    }

    /** Returns the block tree the adapters are attached to (the same object that was passed in). */
    public Block block() {
        return block;
    }

    /**
     * Attaches a new adapter and makes it the active one.
     *
     * @throws IllegalArgumentException if the name is taken or malformed, or the config does not
     *     fit the model (a target matching no module lists the modules that exist); the model is
     *     then unchanged
     */
    public AttachedAdapter addAdapter(String name, PeftConfig config) {
        checkNewName(name);
        return activate(attach(name, config, null));
    }

    /**
     * Loads an adapter saved in Hugging Face PEFT's layout (by peft4j or by Python's
     * {@code save_pretrained}) and makes it the active one.
     *
     * @throws AdapterFormatException if the files are missing or malformed, or do not fit this
     *     model (the message names the module and the expected and found shapes); the model is
     *     then unchanged
     * @throws IOException if the files cannot be read
     */
    public AttachedAdapter loadAdapter(Path directory, String name) throws IOException {
        checkNewName(name);
        return loadAdapter(AdapterCheckpoint.load(directory), name, directory.toString());
    }

    /**
     * Attaches an adapter already read into memory (see {@link #loadAdapter(Path, String)}) and
     * makes it the active one; {@code source} names where it came from in error messages.
     *
     * @throws AdapterFormatException if it does not fit this model; the model is then unchanged
     */
    public AttachedAdapter loadAdapter(AdapterCheckpoint checkpoint, String name, String source) {
        checkNewName(name);
        try {
            if (block instanceof TaskModel task) {
                task.checkHeadMetadata(checkpoint.metadata());
            }
            return activate(attach(name, checkpoint.config(), checkpoint.tensors()));
        } catch (AdapterFormatException e) {
            throw new AdapterFormatException(source + ": " + e.getMessage() + unsavedHeadHint(checkpoint), e);
        } catch (IllegalArgumentException e) {
            throw new AdapterFormatException(source + ": the adapter does not fit this model: " + e.getMessage()
                    + unsavedHeadHint(checkpoint), e);
        }
    }

    /**
     * Why a {@link TaskModel}'s head may be missing from an adapter: the model trains head modules
     * whose base weights it lacks (a pooler an ONNX export dropped), which an adapter made on a
     * complete base does not save.
     */
    private String unsavedHeadHint(AdapterCheckpoint checkpoint) {
        if (!(block instanceof TaskModel task)) {
            return "";
        }
        List<String> unsaved = new java.util.ArrayList<>(task.headModules());
        unsaved.removeAll(checkpoint.config().modulesToSave());
        return unsaved.isEmpty() ? "" : ". This model trains " + unsaved + " with every adapter, because its base has"
                + " no pretrained weights for them, and the adapter does not save them (its modules_to_save: "
                + checkpoint.config().modulesToSave() + "): load the base with those weights (for a pooler: from its"
                + " Hugging Face checkpoint, not an ONNX export)";
    }

    private AttachedAdapter attach(String name, PeftConfig given, Map<String, Tensor> saved) {
        PeftConfig config = forTask(given);
        // as Hugging Face PEFT's PeftModel.add_adapter (peft 0.21, peft_model.py lines 1126-1130)
        for (AttachedAdapter other : adapters.values()) {
            if (other.config().peftType() != config.peftType()) {
                throw new IllegalArgumentException("cannot combine adapters of different peft types: adapter "
                        + other.name() + " is " + other.config().peftType() + " and the new one is " + config.peftType()
                        + "; merge (mergeAndUnload) or delete the other first");
            }
        }
        return methodFor(config).attach(block, name, config, saved, tokenizer);
    }

    /**
     * The registered {@link DjlMethod} of the config's {@code peft_type}.
     *
     * @throws IllegalArgumentException naming the types DJL can attach if there is none
     */
    private static DjlMethod methodFor(PeftConfig config) {
        List<PeftType> known = new java.util.ArrayList<>();
        for (DjlMethod method : METHODS) {
            if (method.peftType() == config.peftType()) {
                return method;
            }
            known.add(method.peftType());
        }
        throw new IllegalArgumentException("peft_type " + config.peftType() + " has no DJL implementation; DJL attaches "
                + known);
    }

    /**
     * On a {@link TaskModel}, the config with the model's task type and its head modules among
     * {@code modules_to_save}, as Hugging Face PEFT's task model classes complete a config.
     *
     * @throws IllegalArgumentException if the config names another task
     */
    private PeftConfig forTask(PeftConfig config) {
        if (!(block instanceof TaskModel task)) {
            return config;
        }
        if (config.taskType() != null && config.taskType() != task.taskType()) {
            throw new IllegalArgumentException("the adapter is for task_type " + config.taskType() + " but the model is a "
                    + task.taskType() + " model (" + block.getClass().getSimpleName() + ")");
        }
        java.util.LinkedHashSet<String> modules = new java.util.LinkedHashSet<>(config.modulesToSave());
        modules.addAll(task.headModules());
        return config.withTaskType(task.taskType()).withModulesToSave(List.copyOf(modules));
    }

    private AttachedAdapter activate(AttachedAdapter adapter) {
        adapters.put(adapter.name(), adapter);
        setActiveAdapter(adapter.name());
        return adapter;
    }

    private void checkNewName(String name) {
        if (name == null || !ADAPTER_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException(
                    "adapter name must be letters, digits, '_' or '-', got " + (name == null ? "null" : "\"" + name + "\""));
        }
        if (adapters.containsKey(name)) {
            throw new IllegalArgumentException("an adapter named \"" + name + "\" is already attached; adapters: "
                    + adapters.keySet());
        }
    }

    /**
     * Combines attached LoRA adapters into a new adapter named {@code adapterName}, as Hugging Face
     * PEFT's {@code add_weighted_adapter(adapters, weights, adapter_name, combination_type)} does
     * (the combinations, the new rank and config, and where peft4j differs are described at
     * {@link WeightedAdapterMerge}). The new adapter is attached but, as in PEFT, not activated:
     * call {@link #setActiveAdapter} to use it (an adapter merged into the weights is unmerged when
     * the new one is attached).
     *
     * @param adapters the names of the adapters to combine
     * @param weights one weight per adapter, in the same order; negative weights subtract
     * @param options sets the combination type and its options on the builder (the adapters are set
     *     here), for example {@code b -> b.setCombinationType(CombinationType.TIES).optDensity(0.5)}
     * @throws IllegalArgumentException if the name is taken or malformed (PEFT returns silently), an
     *     adapter does not exist or is not LoRA, the counts differ, or the adapters cannot be combined
     *     that way; the model is then unchanged
     */
    public AttachedAdapter addWeightedAdapter(List<String> adapters, List<Double> weights, String adapterName,
            Consumer<WeightedAdapterMerge.Builder> options) {
        checkNewName(adapterName);
        Map<String, AdapterCheckpoint> inputs = new LinkedHashMap<>();
        for (String name : adapters) {
            inputs.put(name, checkpoint(name));
        }
        WeightedAdapterMerge.Builder builder = WeightedAdapterMerge.builder().setAdapters(inputs, weights);
        options.accept(builder);
        AdapterCheckpoint combined = builder.build().merge();
        String previous = activeAdapter;
        AttachedAdapter added = loadAdapter(combined, adapterName, "add_weighted_adapter(" + adapters + ")");
        if (previous != null) {
            setActiveAdapter(previous);
        }
        return added;
    }

    /**
     * Combines attached LoRA adapters with {@code combinationType} and its default options; see
     * {@link #addWeightedAdapter(List, List, String, Consumer)}.
     */
    public AttachedAdapter addWeightedAdapter(List<String> adapters, List<Double> weights, String adapterName,
            CombinationType combinationType) {
        return addWeightedAdapter(adapters, weights, adapterName, b -> b.setCombinationType(combinationType));
    }

    /** Returns the names of the attached adapters, in the order they were added. */
    public Set<String> adapterNames() {
        return Collections.unmodifiableSet(adapters.keySet());
    }

    /** Returns the active adapter's name, or null if no adapter is attached. */
    public String activeAdapter() {
        return activeAdapter;
    }

    /**
     * Returns an attached adapter.
     *
     * @throws IllegalArgumentException if no adapter has that name
     */
    public Adapter adapter(String name) {
        return require(name);
    }

    private AttachedAdapter require(String name) {
        AttachedAdapter adapter = adapters.get(name);
        if (adapter == null) {
            throw new IllegalArgumentException("no adapter named \"" + name + "\"; adapters: " + adapters.keySet());
        }
        return adapter;
    }

    /**
     * Makes {@code name} the adapter the forward pass uses and the only one that trains. Another
     * adapter merged into the weights is unmerged first.
     */
    public void setActiveAdapter(String name) {
        AttachedAdapter next = require(name);
        if (activeAdapter != null && !activeAdapter.equals(name)) {
            adapters.get(activeAdapter).setActive(false);
        }
        next.setActive(true);
        activeAdapter = name;
        freezeBase();
    }

    /**
     * Detaches an adapter and frees its arrays; layers it alone wrapped get their original block
     * back. If it was active, the most recently added remaining adapter becomes active.
     */
    public void deleteAdapter(String name) {
        AttachedAdapter adapter = require(name);
        adapter.setActive(false);
        adapter.remove(false);
        adapters.remove(name);
        if (name.equals(activeAdapter)) {
            activeAdapter = null;
            String last = null;
            for (String n : adapters.keySet()) {
                last = n;
            }
            if (last != null) {
                setActiveAdapter(last);
            }
        }
        freezeBase();
    }

    /**
     * Freezes every parameter except the active adapter's. {@link #addAdapter} and
     * {@link #setActiveAdapter} do this; call it again after DJL's {@code Model.newTrainer}, which
     * unfreezes every parameter of a model loaded from disk.
     */
    public void freezeBase() {
        Set<Parameter> trainable = Collections.newSetFromMap(new IdentityHashMap<>());
        if (activeAdapter != null) {
            trainable.addAll(adapters.get(activeAdapter).trainableParameterList());
        }
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter parameter = p.getValue();
            boolean train = trainable.contains(parameter);
            // freeze() sets both the flag and the array's gradient, which a new parameter may still lack;
            // calling it again on a parameter that already has both would attach a fresh gradient array
            if (parameter.requiresGradient() != train || train && !parameter.getArray().hasGradient()) {
                parameter.freeze(!train);
            }
        }
    }

    /** Creates a trainer with DJL's {@code Model.newTrainer}, then freezes the base again. */
    public Trainer newTrainer(Model model, TrainingConfig config) {
        if (model.getBlock() != block) {
            throw new IllegalArgumentException("the model does not hold this PeftModel's block");
        }
        Trainer trainer = model.newTrainer(config);
        freezeBase();
        return trainer;
    }

    /** Returns how many parameters train and how many the model has in all, adapters included. */
    public TrainableParameters trainableParameters() {
        long trainable = 0;
        long all = 0;
        for (Pair<String, Parameter> p : block.getParameters()) {
            Parameter parameter = p.getValue();
            long size = parameter.isInitialized() ? parameter.getArray().size() : 0;
            all += size;
            if (parameter.requiresGradient()) {
                trainable += size;
            }
        }
        return new TrainableParameters(trainable, all);
    }

    /**
     * Folds the active adapter into the base weights: inference then costs what the base model costs.
     *
     * @throws IllegalStateException if the active adapter is not LoRA (prompts and prefixes cannot merge)
     */
    public void merge() {
        activeOrThrow().merge();
    }

    /** Takes the active adapter back out of the base weights. */
    public void unmerge() {
        activeOrThrow().unmerge();
    }

    /** Returns whether the active adapter is merged into the base weights. */
    public boolean isMerged() {
        return activeAdapter != null && adapters.get(activeAdapter).isMerged();
    }

    private AttachedAdapter activeOrThrow() {
        if (activeAdapter == null) {
            throw new IllegalStateException("no adapter is attached");
        }
        return adapters.get(activeAdapter);
    }

    /**
     * Bypasses every adapter until the returned scope is closed, so the forward pass computes the
     * base model (a merged adapter is unmerged for the scope and merged again after):
     * <pre>{@code try (PeftModel.Scope base = peft.disableAdapters()) { ... } }</pre>
     */
    public Scope disableAdapters() {
        AttachedAdapter active = activeAdapter == null ? null : adapters.get(activeAdapter);
        boolean wasMerged = active != null && active.isMerged();
        if (wasMerged) {
            active.unmerge();
        }
        adapters.values().forEach(a -> a.setDisabled(true));
        return () -> {
            adapters.values().forEach(a -> a.setDisabled(false));
            if (wasMerged && adapters.get(active.name()) == active) {
                active.merge();
            }
        };
    }

    /** A scope that ends with {@code close()}, without a checked exception. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Merges the active adapter into the base weights and detaches every adapter, leaving a plain
     * block tree (the original layers, with merged weights) for deployment.
     *
     * @return the block tree
     */
    public Block mergeAndUnload() {
        merge();
        AttachedAdapter active = adapters.get(activeAdapter);
        for (AttachedAdapter a : adapters.values()) {
            if (a != active) {
                a.setActive(false);
                a.remove(false);
            }
        }
        active.remove(true);
        adapters.clear();
        activeAdapter = null;
        freezeBase();
        return block;
    }

    /** Detaches every adapter, restoring the original block tree and weights. */
    public Block unload() {
        for (String name : adapters.keySet().toArray(new String[0])) {
            deleteAdapter(name);
        }
        return block;
    }

    /** Saves the active adapter in Hugging Face PEFT's layout (see {@link #saveAdapter(Path, String)}). */
    public void saveAdapter(Path directory) throws IOException {
        saveAdapter(directory, activeOrThrow().name());
    }

    /**
     * Saves an adapter into {@code directory} as {@code adapter_config.json} and
     * {@code adapter_model.safetensors}, the files Hugging Face PEFT's {@code save_pretrained}
     * writes (with {@code inference_mode: true}, as it writes them). The two files are saved as
     * one unit ({@link AdapterCheckpoint#save}): a crash leaves the previous adapter or this one,
     * whole, and a second writer to the same directory is refused.
     *
     * @throws IllegalArgumentException if the adapter's weights hold NaN or an infinity; nothing is written
     * @throws org.peft4j.api.io.ConcurrentWriteException if another writer is saving to {@code directory}
     */
    public void saveAdapter(Path directory, String name) throws IOException {
        checkpoint(name).save(directory);
    }

    /** The active adapter as {@link #saveAdapter(Path)} would write it, in memory. */
    public AdapterCheckpoint checkpoint() {
        return checkpoint(activeOrThrow().name());
    }

    /** An adapter as {@link #saveAdapter(Path, String)} would write it, in memory. */
    public AdapterCheckpoint checkpoint(String name) {
        AttachedAdapter adapter = require(name);
        Map<String, String> metadata = block instanceof TaskModel task ? task.headMetadata() : Map.of();
        return new AdapterCheckpoint(adapter.config().withInferenceMode(true), adapter.stateDict(), metadata);
    }

    @Override
    public String toString() {
        return "PeftModel(adapters=" + adapters.keySet() + ", active=" + activeAdapter + ", " + trainableParameters() + ")";
    }
}
