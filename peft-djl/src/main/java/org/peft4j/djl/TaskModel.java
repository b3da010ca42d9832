package org.peft4j.djl;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.peft4j.api.TaskType;

/**
 * A model with a task head, as Hugging Face's {@code *ForSequenceClassification} classes are. It
 * tells {@link PeftModel} three things, so that adapters on it are the adapters Python's PEFT
 * makes and reads:
 * <ul>
 *   <li>its task type, written as {@code task_type} in every adapter's config (PEFT picks the
 *       model class from it);</li>
 *   <li>the head modules that train whole with every adapter and are saved with it, as PEFT adds
 *       {@code classifier} and {@code score} to {@code modules_to_save} for {@code SEQ_CLS}
 *       ({@code peft_model.py}, {@code PeftModelForSequenceClassification.__init__});</li>
 *   <li>which head computes its outputs, recorded in the adapter's safetensors metadata (which
 *       Python ignores), so that an adapter is never silently run on another head.</li>
 * </ul>
 */
public interface TaskModel {
    /** Returns the task, as {@code task_type} names it. */
    TaskType taskType();

    /**
     * Returns the head modules that train whole with every adapter and are saved with it, each
     * matched against the end of a module path as {@code modules_to_save} entries are.
     */
    List<String> headModules();

    /** Returns the strings that say which head this is, for the adapter's metadata. */
    Map<String, String> headMetadata();

    /**
     * Checks an adapter's metadata against this head: an adapter trained on another head must not
     * load. Metadata without the keys (adapters made by Python) is accepted.
     *
     * @throws IllegalArgumentException saying which head the adapter was trained with
     */
    void checkHeadMetadata(Map<String, String> metadata);

    /**
     * Returns the path of the output layer that {@code target_modules: all-linear} leaves out, as
     * PEFT leaves out the module {@code get_output_embeddings()} returns
     * ({@code peft/tuners/tuners_utils.py}, {@code _maybe_include_all_linear_layers}): a language
     * model's {@code lm_head}. Empty for models without one (a classifier's head is left out as a
     * module to save).
     */
    default Optional<String> outputLayerPath() {
        return Optional.empty();
    }
}
