package org.peft4j.djl.train;

import ai.djl.Model;
import ai.djl.nn.Parameter;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import java.io.PrintStream;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * Fine-tunes a text classifier (or a regressor with one output): a {@link FineTuning} run of the
 * {@link TextClassificationTask}, with the classification's own evaluation (accuracy, macro F1 and
 * the confusion matrix) at hand. Everything about the run itself (AdamW, the schedule, clipping,
 * accumulation, logs, the best adapter, early stopping on dev accuracy or for regression on the dev
 * loss) is {@link FineTuning}'s.
 */
public final class TextTraining {
    private final FineTuning<LabeledText> run;
    private final TextClassificationTask task;

    /**
     * Trains the active adapter of {@code peft} (and the modules saved with it).
     *
     * @param model the DJL model whose block is {@code peft}'s block
     * @param peft the model with its adapter attached and active
     * @param tokenizer turns texts into the classifier's inputs
     * @param labels the class names; a text's label index is its position here
     */
    public TextTraining(Model model, PeftModel peft, BertTokenizer tokenizer, List<String> labels) {
        this(new FineTuning<>(model, peft, TextClassificationTask.classification(tokenizer, labels)));
    }

    /**
     * Trains whatever parameters of {@code model}'s block are unfrozen, such as every parameter
     * (full fine-tuning) or only a head (a linear probe), for comparisons with PEFT. No best adapter
     * is saved.
     *
     * @param trainable the unfrozen parameters, which are clipped and updated
     * @param trainers creates DJL trainers (for a model loaded from disk, one that keeps the frozen frozen)
     */
    public TextTraining(Model model, Supplier<List<Parameter>> trainable,
            Function<TrainingConfig, Trainer> trainers, BertTokenizer tokenizer, List<String> labels) {
        this(new FineTuning<>(model, trainable, trainers, TextClassificationTask.classification(tokenizer, labels)));
    }

    private TextTraining(FineTuning<LabeledText> run) {
        this.run = run;
        this.task = (TextClassificationTask) run.task();
    }

    /**
     * Trains the active adapter of {@code peft} (and the modules saved with it) for regression: the
     * model has one output, each text's label is its target written as a number, and the loss is
     * the mean squared error.
     */
    public static TextTraining regression(Model model, PeftModel peft, BertTokenizer tokenizer) {
        return new TextTraining(new FineTuning<>(model, peft, TextClassificationTask.regression(tokenizer)));
    }

    /** Returns the run, for what this class does not wrap. */
    public FineTuning<LabeledText> run() {
        return run;
    }

    /**
     * The loss and metrics of a model on some labelled data.
     *
     * @param loss the mean cross-entropy, or for regression the mean squared error; not finite if
     *     any output of the model was not
     * @param metrics accuracy and F1; null for regression
     */
    public record Evaluation(float loss, ClassificationMetrics metrics) {
        /** Whether the loss, and so every output it was computed from, is finite. */
        public boolean isFinite() {
            return Float.isFinite(loss);
        }
    }

    /**
     * Trains, reporting each epoch to {@code onEpoch} (see {@link FineTuning#fit}).
     *
     * @throws IllegalStateException if training diverges
     */
    public List<FineTuning.EpochReport> fit(List<LabeledText> train, List<LabeledText> dev, FineTuning.Settings settings,
            Consumer<FineTuning.EpochReport> onEpoch) {
        return run.fit(train, dev, settings, onEpoch);
    }

    /**
     * Returns the mean cross-entropy, accuracy and macro F1 of the model on {@code data}; for
     * regression, the mean squared error.
     */
    public Evaluation evaluate(List<LabeledText> data, int batchSize) {
        return evaluate(data, batchSize, null, null);
    }

    /**
     * Returns the mean cross-entropy, accuracy and macro F1 of the model on {@code data} (for
     * regression, the mean squared error), drawing a progress bar named {@code label} on
     * {@code progress} unless it is null.
     */
    public Evaluation evaluate(List<LabeledText> data, int batchSize, PrintStream progress, String label) {
        TextClassificationTask.Scorer scorer = run.evaluate(data, batchSize, task.evaluator(), progress, label);
        return new Evaluation((float) scorer.result().loss(), scorer.classificationMetrics());
    }

    /** Times {@code steps} updates on one fixed batch with {@link AdamW} (see {@link FineTuning#profileSteps}). */
    public List<FineTuning.StepPhases> profileSteps(List<LabeledText> batch, float learningRate, int steps) {
        return run.profileSteps(batch, learningRate, steps);
    }

    /** Times {@code steps} updates on one fixed batch with the given AdamW (see {@link FineTuning#profileSteps}). */
    public List<FineTuning.StepPhases> profileSteps(List<LabeledText> batch, float learningRate, int steps,
            FineTuning.AdamWImplementation implementation) {
        return run.profileSteps(batch, learningRate, steps, implementation);
    }

    /** Returns the fraction of {@code data} the model classifies correctly (classification only). */
    public float accuracy(List<LabeledText> data, int batchSize) {
        if (task.isRegression()) {
            throw new IllegalStateException("accuracy is for classification; a regression's evaluate gives its loss");
        }
        return (float) evaluate(data, batchSize).metrics().accuracy();
    }
}
