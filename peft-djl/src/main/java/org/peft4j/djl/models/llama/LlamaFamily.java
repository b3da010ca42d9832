package org.peft4j.djl.models.llama;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.CheckpointWeights;
import org.peft4j.djl.models.DecoderFamily;

/**
 * The LLaMA family ({@code model_type} {@code llama}, {@code mistral}, {@code qwen2}), registered as
 * a {@link DecoderFamily}: builds a {@link LlamaForCausalLM} from a checkpoint saved by
 * {@code *ForCausalLM.save_pretrained} (keys {@code model.*} and, unless the embeddings are tied,
 * {@code lm_head.weight}).
 */
public final class LlamaFamily implements DecoderFamily {
    @Override
    public List<String> modelTypes() {
        return LlamaConfig.MODEL_TYPES;
    }

    @Override
    public CausalLanguageModel fromHuggingFace(Checkpoint checkpoint, NDManager manager) {
        LlamaConfig config = LlamaConfig.fromJson(checkpoint.config(), checkpoint.configSource());
        Map<String, Tensor> tensors = new TreeMap<>(checkpoint.weights());
        if (config.tieWordEmbeddings()) {
            // a tied checkpoint may still hold the output projection; the model reads the table instead
            tensors.remove("lm_head.weight");
        }
        LlamaForCausalLM model = new LlamaForCausalLM(config);
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        try {
            CheckpointWeights.load(model, tensors, checkpoint.weightsSource());
        } catch (RuntimeException e) {
            model.clear();
            throw e;
        }
        return model;
    }
}
