package org.peft4j.djl.models.distilbert;

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
 * The DistilBERT family ({@code model_type} {@code distilbert}), registered as an
 * {@link EncoderFamily}. Checkpoint keys may carry the task models' prefix {@code distilbert.};
 * heads in the checkpoint are ignored. PEFT 0.21 has no default LoRA targets for it
 * ({@code peft/utils/constants.py} line 67, {@code TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING},
 * lists no {@code distilbert}): name them, usually {@code q_lin} and {@code v_lin}, or use
 * {@code all-linear}. An {@code all-linear} adapter peft4j writes loads in PEFT 0.21 with peft4j's
 * logits: its {@code modules_to_save} names {@code pre_classifier} as well as {@code classifier},
 * and PEFT keeps every module that {@code modules_to_save} names out of the targets
 * ({@code check_target_module_exists}, {@code tuners/tuners_utils.py} lines 2359-2364). Python's
 * own {@code get_peft_model} with {@code all-linear} on {@code DistilBertForSequenceClassification}
 * fails instead: it adds only {@code classifier} to {@code modules_to_save}, so LoRA goes on
 * {@code pre_classifier} too (all-linear leaves out only the head, lines 2470-2477), and then
 * {@code classifier}'s suffix match wraps that LoRA layer, a TypeError ({@code utils/other.py}
 * line 360).
 */
public final class DistilBertFamily implements EncoderFamily {
    /** The {@code model_type} this family reads. */
    public static final String MODEL_TYPE = "distilbert";
    /** The prefix of the encoder's keys in a task model's checkpoint, and the encoder's module path there. */
    public static final String PREFIX = "distilbert";

    @Override
    public List<String> modelTypes() {
        return List.of(MODEL_TYPE);
    }

    @Override
    public TextEncoder fromHuggingFace(Checkpoint checkpoint, NDManager manager) {
        DistilBertModel model = new DistilBertModel(
                DistilBertConfig.fromJson(checkpoint.config(), checkpoint.configSource()));
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        CheckpointWeights.load(model, EncoderFamilies.withoutPrefix(checkpoint.weights(), PREFIX + "."),
                checkpoint.weightsSource());
        return model;
    }

    @Override
    public TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager) {
        if (!(encoder instanceof DistilBertModel distilbert)) {
            throw new IllegalArgumentException("a DistilBERT head needs a DistilBertModel, got model_type "
                    + encoder.modelType());
        }
        if (!TextClassifier.HUGGING_FACE_HEAD.equals(head)) {
            throw new IllegalArgumentException("classifier head \"" + head + "\" is not offered for model_type "
                    + MODEL_TYPE + "; it has \"" + TextClassifier.HUGGING_FACE_HEAD
                    + "\" (DistilBertForSequenceClassification's, as transformers computes it)");
        }
        return new DistilBertSequenceClassifier(distilbert, numLabels).initializeHead(manager);
    }
}
