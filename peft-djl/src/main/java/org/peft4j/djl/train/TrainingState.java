package org.peft4j.djl.train;

import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.TensorConversions;

/**
 * Where a {@link FineTuning} run stands after an update, enough to resume it exactly: the trainable
 * weights, {@link AdamW}'s moments and update count, the training loss of every update so far, and
 * the early-stopping bookkeeping. Parameters are keyed by their position in the trainable list
 * ({@code weight.3}, {@code adamw.mean.3}, {@code adamw.variance.3}), which is the same for the same
 * model and adapter, and checked by name and shape when restored. Written and read as one
 * safetensors file ({@link #toSafeTensors()}, {@link #fromSafeTensors}); see {@link Checkpointing}.
 */
public final class TrainingState {
    /** The {@code format} metadata value that marks a training state. */
    public static final String FORMAT = "peft4j-training-state";

    private final int update;
    private final List<String> names;
    private final List<Tensor> weights;
    private final List<Tensor> means;
    private final List<Tensor> variances;
    private final float[] losses;
    private final double bestScore;
    private final int epochsWithoutGain;
    private final AdapterCheckpoint adapter;

    private TrainingState(int update, List<String> names, List<Tensor> weights, List<Tensor> means,
            List<Tensor> variances, float[] losses, double bestScore, int epochsWithoutGain, AdapterCheckpoint adapter) {
        this.update = update;
        this.names = names;
        this.weights = weights;
        this.means = means;
        this.variances = variances;
        this.losses = losses;
        this.bestScore = bestScore;
        this.epochsWithoutGain = epochsWithoutGain;
        this.adapter = adapter;
    }

    /**
     * Copies the state of a run after {@code update} out of its parameters and optimizer, with its
     * adapter ({@code null} for a run that trains the model's own weights).
     */
    static TrainingState capture(int update, List<Parameter> trainable, AdamW optimizer, float[] losses,
            double bestScore, int epochsWithoutGain, AdapterCheckpoint adapter) {
        List<String> names = new ArrayList<>();
        List<Tensor> weights = new ArrayList<>();
        List<Tensor> means = new ArrayList<>();
        List<Tensor> variances = new ArrayList<>();
        for (Parameter p : trainable) {
            names.add(p.getName());
            weights.add(TensorConversions.toTensor(p.getArray()));
            Tensor[] moments = optimizer.moments(p);
            means.add(moments == null ? null : moments[0]);
            variances.add(moments == null ? null : moments[1]);
        }
        return new TrainingState(update, names, weights, means, variances, losses.clone(), bestScore, epochsWithoutGain,
                adapter);
    }

    /**
     * Writes the state's weights and moments into {@code trainable} and {@code optimizer}.
     *
     * @throws IllegalArgumentException if the state is of another model or adapter (another number
     *     of trainable parameters, or another name or shape at some position); nothing is changed then
     */
    void restore(List<Parameter> trainable, AdamW optimizer, String source) {
        if (trainable.size() != names.size()) {
            throw new IllegalArgumentException(source + " holds " + names.size() + " trainable parameters, but this run"
                    + " trains " + trainable.size() + ": it is the state of another model or adapter");
        }
        for (int i = 0; i < names.size(); i++) {
            Parameter p = trainable.get(i);
            long[] shape = p.getArray().getShape().getShape();
            if (!names.get(i).equals(p.getName()) || !Arrays.equals(shape, weights.get(i).shape())) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "%s: trainable parameter %d is %s %s, but"
                        + " this run's is %s %s: it is the state of another model or adapter", source, i, names.get(i),
                        Arrays.toString(weights.get(i).shape()), p.getName(), Arrays.toString(shape)));
            }
        }
        for (int i = 0; i < names.size(); i++) {
            Parameter p = trainable.get(i);
            TensorConversions.copyInto(weights.get(i), p.getArray());
            optimizer.restoreMoments(p, means.get(i), variances.get(i));
        }
        optimizer.restoreUpdateCount(update);
    }

    /** The updates taken; a resumed run continues with update {@code update() + 1}. */
    public int update() {
        return update;
    }

    /** The training loss of each update so far (update i + 1 at index i). */
    public float[] losses() {
        return losses.clone();
    }

    /** The training loss of update {@code update} (from 1). */
    float lossOf(int update) {
        return losses[update - 1];
    }

    /**
     * The run's adapter at this update, in PEFT's layout, for a run that trains one (null for a
     * run of the model's own weights, and for a state read back: the weights are in the state);
     * not part of {@link #toSafeTensors()}.
     */
    public AdapterCheckpoint adapter() {
        return adapter;
    }

    /** The best dev score of the epochs so far (negative infinity before any). */
    double bestScore() {
        return bestScore;
    }

    /** Epochs since the best one. */
    int epochsWithoutGain() {
        return epochsWithoutGain;
    }

    /** The state as safetensors: float32 tensors, the update and the bookkeeping in the metadata. */
    public SafeTensors toSafeTensors() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (int i = 0; i < weights.size(); i++) {
            tensors.put("weight." + i, weights.get(i));
            if (means.get(i) != null) {
                tensors.put("adamw.mean." + i, means.get(i));
                tensors.put("adamw.variance." + i, variances.get(i));
            }
        }
        tensors.put("losses", Tensor.ofFloats(new long[] {losses.length}, losses));
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", FORMAT);
        metadata.put("update", Integer.toString(update));
        metadata.put("parameters", String.join(",", names));
        metadata.put("best_score", Double.toString(bestScore));
        metadata.put("epochs_without_gain", Integer.toString(epochsWithoutGain));
        return new SafeTensors(tensors, metadata);
    }

    /**
     * Reads a state written by {@link #toSafeTensors()}; tensors under other names are ignored.
     *
     * @param source names the file in messages
     * @throws SafeTensorsFormatException if it is not a training state or misses a part
     */
    public static TrainingState fromSafeTensors(SafeTensors file, String source) {
        Map<String, String> metadata = file.metadata();
        if (!FORMAT.equals(metadata.get("format"))) {
            throw new SafeTensorsFormatException(source + " is not a peft4j training state (its metadata format is "
                    + metadata.get("format") + ", not " + FORMAT + ")");
        }
        try {
            int update = Integer.parseInt(required(metadata, "update", source));
            String parameters = required(metadata, "parameters", source);
            List<String> names = parameters.isEmpty() ? List.of() : List.of(parameters.split(",", -1));
            List<Tensor> weights = new ArrayList<>();
            List<Tensor> means = new ArrayList<>();
            List<Tensor> variances = new ArrayList<>();
            Map<String, Tensor> tensors = file.tensors();
            for (int i = 0; i < names.size(); i++) {
                Tensor weight = tensors.get("weight." + i);
                if (weight == null) {
                    throw new SafeTensorsFormatException(source + " has no tensor weight." + i + " (" + names.get(i) + ")");
                }
                weights.add(weight);
                Tensor mean = tensors.get("adamw.mean." + i);
                Tensor variance = tensors.get("adamw.variance." + i);
                if ((mean == null) != (variance == null)) {
                    throw new SafeTensorsFormatException(source + " has only one of AdamW's two moments of parameter " + i);
                }
                means.add(mean);
                variances.add(variance);
            }
            Tensor losses = tensors.get("losses");
            if (losses == null || losses.elementCount() != update) {
                throw new SafeTensorsFormatException(source + " must hold the loss of each of its " + update + " updates");
            }
            return new TrainingState(update, names, weights, means, variances, losses.toFloatArray(),
                    Double.parseDouble(required(metadata, "best_score", source)),
                    Integer.parseInt(required(metadata, "epochs_without_gain", source)), null);
        } catch (NumberFormatException e) {
            throw new SafeTensorsFormatException(source + " has a number in its metadata that does not parse: "
                    + e.getMessage());
        }
    }

    private static String required(Map<String, String> metadata, String key, String source) {
        String value = metadata.get(key);
        if (value == null) {
            throw new SafeTensorsFormatException(source + " has no \"" + key + "\" in its metadata");
        }
        return value;
    }
}
