package org.peft4j.djl.models;

import ai.djl.ndarray.NDManager;
import java.util.List;

/**
 * One encoder family, as a folder under {@code org.peft4j.djl.models} holds it (transformers'
 * {@code models/<family>/}): the {@code model_type} values it reads and how it builds a
 * {@link TextEncoder} from a Hugging Face checkpoint. Registered once, in
 * {@code META-INF/services/org.peft4j.djl.models.EncoderFamily}; {@link EncoderFamilies} finds it.
 */
public interface EncoderFamily {
    /** Returns the {@code model_type} values of {@code config.json} this family loads, such as {@code bert}. */
    List<String> modelTypes();

    /**
     * Builds the encoder a checkpoint describes, with its pretrained weights.
     *
     * @param checkpoint the config and the tensors (task-model prefixes such as {@code bert.}
     *     included; the family strips its own; task heads are ignored)
     * @throws IllegalArgumentException naming the key or tensor that is missing or does not fit
     */
    TextEncoder fromHuggingFace(Checkpoint checkpoint, NDManager manager);

    /**
     * Puts a new sequence classification head on an encoder of this family, as the family's
     * {@code *ForSequenceClassification} class does, the head's weights initialized.
     *
     * @param encoder an encoder this family built
     * @param numLabels the number of outputs (one makes a regressor)
     * @param head {@link TextClassifier#HUGGING_FACE_HEAD} for the family's Hugging Face head, or
     *     another head the family offers
     * @throws IllegalArgumentException if the encoder is not of this family or the head is unknown
     */
    TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager);
}
