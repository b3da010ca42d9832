package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * One family of causal language models, as a folder under {@code org.peft4j.djl.models} holds it
 * (transformers' {@code models/<family>/}): the {@code model_type} values it reads and how it
 * builds a {@link CausalLanguageModel} from a Hugging Face checkpoint. Registered once, in
 * {@code META-INF/services/org.peft4j.djl.models.DecoderFamily}; {@link DecoderFamilies} finds it.
 */
public interface DecoderFamily {
    /** Returns the {@code model_type} values of {@code config.json} this family loads, such as {@code llama}. */
    List<String> modelTypes();

    /**
     * Builds the language model a checkpoint describes, with its pretrained weights.
     *
     * @throws IllegalArgumentException naming the key or tensor that is missing or does not fit,
     *     or a setting the family does not implement
     */
    CausalLanguageModel fromHuggingFace(Checkpoint checkpoint, NDManager manager);
}
