package org.peft4j.djl.models.roberta;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.List;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.CheckpointWeights;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.EncoderFamily;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.TextEncoder;

/**
 * The RoBERTa family ({@code model_type} {@code roberta}, {@code xlm-roberta}, {@code camembert}:
 * one architecture in transformers), registered as an {@link EncoderFamily}. Checkpoint keys may
 * carry the task models' prefix {@code roberta.}; heads and a pooler in the checkpoint are ignored.
 */
public final class RobertaFamily implements EncoderFamily {
    /** The {@code model_type} values this family reads. */
    public static final List<String> MODEL_TYPES = List.of("roberta", "xlm-roberta", "camembert");
    /** The prefix of the encoder's keys in a task model's checkpoint, and the encoder's module path there. */
    public static final String PREFIX = "roberta";

    @Override
    public List<String> modelTypes() {
        return MODEL_TYPES;
    }

    @Override
    public TextEncoder fromHuggingFace(Checkpoint checkpoint, NDManager manager) {
        RobertaModel model = new RobertaModel(RobertaConfig.fromJson(checkpoint.config(), checkpoint.configSource()));
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        CheckpointWeights.load(model, EncoderFamilies.withoutPrefix(checkpoint.weights(), PREFIX + "."),
                checkpoint.weightsSource());
        return model;
    }

    @Override
    public TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager) {
        if (!(encoder instanceof RobertaModel roberta)) {
            throw new IllegalArgumentException("a RoBERTa head needs a RobertaModel, got model_type " + encoder.modelType());
        }
        if (!TextClassifier.HUGGING_FACE_HEAD.equals(head)) {
            throw new IllegalArgumentException("classifier head \"" + head + "\" is not offered for model_type "
                    + encoder.modelType() + "; it has \"" + TextClassifier.HUGGING_FACE_HEAD
                    + "\" (RobertaClassificationHead, as transformers computes it)");
        }
        return new RobertaSequenceClassifier(roberta, numLabels).initializeHead(manager);
    }
}
