package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.peft4j.api.TaskType;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.TaskModel;

/**
 * A decoder-only language model of any family (LLaMA, Qwen2, Mistral, GPT-2, ...), as Hugging
 * Face's {@code *ForCausalLM} classes are: token ids in, next-token logits out, with an optional
 * {@link KeyValueCache} for generation. Each family's model is a DJL block whose module paths are
 * Hugging Face's ({@code model.layers.0.self_attn.q_proj}, ...), so {@code target_modules} and
 * adapter keys are Python's. Families are found by {@code model_type} through
 * {@link DecoderFamilies}. As a {@link TaskModel} its task type is {@code CAUSAL_LM}, with no head
 * modules: PEFT's {@code PeftModelForCausalLM} saves none.
 */
public interface CausalLanguageModel extends Block, TaskModel {
    /** Returns the family's {@code model_type}, as {@code config.json} names it. */
    String modelType();

    /** Returns the vocabulary size, the width of the logits. */
    int vocabSize();

    /** Returns the number of decoder layers, the layers a {@link KeyValueCache} holds. */
    int numLayers();

    /**
     * Computes the logits [B, T, vocab] of every position of {@code inputIds}.
     *
     * @param inputIds [B, T] int64: the new tokens (after those already in {@code cache})
     * @param attentionMask [B, past + T] (1 for real tokens, 0 for padding), or null for no padding
     * @param positionIds [B, T] int64, or null for past, past + 1, ..., past + T - 1 (transformers'
     *     {@code cache_position} default)
     * @param cache the keys and values of earlier positions, extended in place with these; null
     *     for none
     */
    NDArray logits(ParameterStore ps, NDArray inputIds, NDArray attentionMask, NDArray positionIds,
            KeyValueCache cache, boolean training);

    /**
     * Returns the weights as the family's Hugging Face checkpoint names and lays them out (for
     * {@link DecoderDirectory}), so that transformers' {@code from_pretrained} reads them.
     *
     * @throws IllegalStateException if an adapter is still attached (merge and unload it first)
     */
    Map<String, Tensor> huggingFaceWeights();

    /** Returns {@code CAUSAL_LM}. */
    @Override
    default TaskType taskType() {
        return TaskType.CAUSAL_LM;
    }

    /** None: the output layer is the pretrained one, and no head is saved with an adapter. */
    @Override
    default List<String> headModules() {
        return List.of();
    }

    /** None. */
    @Override
    default Map<String, String> headMetadata() {
        return Map.of();
    }

    /** Accepts any adapter: there is no task head to disagree with. */
    @Override
    default void checkHeadMetadata(Map<String, String> metadata) {
        // nothing to check
    }

    /** {@code lm_head}, which {@code all-linear} leaves out (absent, and so nothing to leave out, when tied). */
    @Override
    default Optional<String> outputLayerPath() {
        return Optional.of("lm_head");
    }
}
