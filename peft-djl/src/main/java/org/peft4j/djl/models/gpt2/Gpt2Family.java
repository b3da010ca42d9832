package org.peft4j.djl.models.gpt2;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Conv1dLayers;
import org.peft4j.djl.ModuleTree;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.CheckpointWeights;
import org.peft4j.djl.models.DecoderFamily;

/**
 * The GPT-2 family ({@code model_type} {@code gpt2}), registered as a {@link DecoderFamily}: builds
 * a {@link Gpt2LMHeadModel} from a checkpoint saved by {@code GPT2LMHeadModel.save_pretrained}
 * (keys {@code transformer.*}, and {@code lm_head.weight} unless tied) or by
 * {@code GPT2Model.save_pretrained} (the same keys without {@code transformer.}, as the original
 * {@code gpt2} checkpoints have them). The {@code Conv1D} weights, stored [in, out], are transposed
 * into the {@code Linear} layers' [out, in].
 */
public final class Gpt2Family implements DecoderFamily {
    private static final String PREFIX = "transformer.";

    @Override
    public List<String> modelTypes() {
        return Gpt2Config.modelTypes();
    }

    @Override
    public CausalLanguageModel fromHuggingFace(Checkpoint checkpoint, NDManager manager) {
        Gpt2Config config = Gpt2Config.fromJson(checkpoint.config(), checkpoint.configSource());
        Map<String, Tensor> tensors = new TreeMap<>();
        boolean bare = checkpoint.weights().keySet().stream().noneMatch(k -> k.startsWith(PREFIX));
        checkpoint.weights().forEach((k, t) -> tensors.put(bare && !k.startsWith("lm_head.") ? PREFIX + k : k, t));
        String source = checkpoint.weightsSource() + (bare ? " (GPT2Model keys, read under \"transformer.\")" : "");
        if (config.tieWordEmbeddings()) {
            // a tied checkpoint may still hold the output projection; the model reads wte instead
            tensors.remove("lm_head.weight");
        }
        Gpt2LMHeadModel model = new Gpt2LMHeadModel(config);
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        try {
            transposeConv1dWeights(model, tensors, source);
            CheckpointWeights.load(model, tensors, source);
        } catch (RuntimeException e) {
            model.clear();
            throw e;
        }
        return model;
    }

    /**
     * Replaces each {@code Conv1D} weight [in, out] in {@code tensors} by its transpose [out, in],
     * the layout of the {@code Linear} layer that holds it; a missing or non-float one is left for
     * {@link CheckpointWeights} to report.
     *
     * @throws IllegalArgumentException listing the {@code Conv1D} weights whose shape is not [in, out]
     */
    private static void transposeConv1dWeights(Gpt2LMHeadModel model, Map<String, Tensor> tensors, String source) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Block> conv1d : conv1dLayers(model).entrySet()) {
            String key = conv1d.getKey() + ".weight";
            long[] linear = conv1d.getValue().getDirectParameters().get("weight").getArray().getShape().getShape();
            long[] stored = {linear[1], linear[0]};
            Tensor t = tensors.get(key);
            if (t == null || !t.dtype().isFloatingPoint()) {
                continue;
            }
            if (!Arrays.equals(t.shape(), stored)) {
                problems.add("tensor \"" + key + "\" has shape " + Arrays.toString(t.shape()) + " but the config gives "
                        + Arrays.toString(stored) + " (a Conv1D weight, stored [in, out])");
                continue;
            }
            tensors.put(key, CheckpointWeights.transpose(t));
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(source + ": the checkpoint does not match its config: "
                    + String.join("; ", problems));
        }
    }

    /** The layers that are transformers' {@code Conv1D} in Python ({@link Conv1dLayers}' Linear children), by module path. */
    static Map<String, Block> conv1dLayers(Block model) {
        Map<String, Block> out = new TreeMap<>();
        for (ModuleTree.Node node : ModuleTree.nodes(model).values()) {
            if (node.parent instanceof Conv1dLayers && node.block instanceof Linear) {
                out.put(node.path, node.block);
            }
        }
        return out;
    }
}
