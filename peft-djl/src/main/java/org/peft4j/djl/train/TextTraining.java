package org.peft4j.djl.train;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.NativeScalars;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertTokenizer;

/**
 * Fine-tunes a PEFT-wrapped text model (a classifier, or a regressor with one output) with DJL's
 * own {@link Trainer}: AdamW, a warm-up then
 * linear or cosine learning-rate schedule, gradient clipping by global norm, gradient accumulation,
 * length-bucketed mini-batches each padded to its own longest sequence, evaluation (loss, accuracy,
 * macro F1; for regression the mean squared error) after every epoch, early stopping on dev
 * accuracy (for regression: on the dev loss), the best adapter saved, and
 * LLaMA-Factory's {@code trainer_log.jsonl} and {@code training_loss.png} (redrawn after every
 * evaluation and at the end) plus a console progress bar. Only the active adapter's
 * parameters (and the modules saved with it) train.
 */
public final class TextTraining {
    /** Batches are sorted by length within groups of this many batches, then the batches are shuffled. */
    private static final int BUCKET_BATCHES = 50;
    /** The curve's file name in the output directory, as LLaMA-Factory names it. */
    public static final String PLOT_FILE = "training_loss.png";

    private final Model model;
    private final PeftModel peft;
    private final Supplier<List<Parameter>> trainable;
    private final Function<TrainingConfig, Trainer> trainers;
    private final BertTokenizer tokenizer;
    private final List<String> labels;
    private final boolean regression;

    /**
     * Trains the active adapter of {@code peft} (and the modules saved with it).
     *
     * @param model the DJL model whose block is {@code peft}'s block
     * @param peft the model with its adapter attached and active
     * @param tokenizer turns texts into the classifier's inputs
     * @param labels the class names; a text's label index is its position here
     */
    public TextTraining(Model model, PeftModel peft, BertTokenizer tokenizer, List<String> labels) {
        this(model, peft, () -> ((AttachedAdapter) peft.adapter(peft.activeAdapter())).trainableParameterList(),
                config -> peft.newTrainer(model, config), tokenizer, labels);
    }

    /**
     * Trains whatever parameters of {@code model}'s block are unfrozen, such as every parameter
     * (full fine-tuning) or only a head (a linear probe), for comparisons with PEFT. No best adapter
     * is saved.
     *
     * @param trainable the unfrozen parameters, for gradient clipping
     * @param trainers creates DJL trainers (for a model loaded from disk, one that keeps the frozen frozen)
     */
    public TextTraining(Model model, Supplier<List<Parameter>> trainable,
            Function<TrainingConfig, Trainer> trainers, BertTokenizer tokenizer, List<String> labels) {
        this(model, null, trainable, trainers, tokenizer, labels);
    }

    private TextTraining(Model model, PeftModel peft, Supplier<List<Parameter>> trainable,
            Function<TrainingConfig, Trainer> trainers, BertTokenizer tokenizer, List<String> labels) {
        this.model = model;
        this.peft = peft;
        this.trainable = trainable;
        this.trainers = trainers;
        this.tokenizer = tokenizer;
        this.labels = labels == null ? List.of() : List.copyOf(labels);
        this.regression = labels == null;
    }

    /**
     * Trains the active adapter of {@code peft} (and the modules saved with it) for regression: the
     * model has one output, each text's label is its target written as a number, and the loss is
     * the mean squared error.
     */
    public static TextTraining regression(Model model, PeftModel peft, BertTokenizer tokenizer) {
        return new TextTraining(model, peft, () -> ((AttachedAdapter) peft.adapter(peft.activeAdapter()))
                .trainableParameterList(), config -> peft.newTrainer(model, config), tokenizer, null);
    }

    private Loss loss() {
        return regression ? new MeanSquaredErrorLoss() : Loss.softmaxCrossEntropyLoss();
    }

    /**
     * The settings of a run, with LLaMA-Factory's names in the comments.
     *
     * @param epochs passes over the training data ({@code num_train_epochs})
     * @param batchSize examples per micro-batch ({@code per_device_train_batch_size})
     * @param learningRate the peak learning rate ({@code learning_rate})
     * @param weightDecay AdamW's decoupled weight decay ({@code weight_decay})
     * @param warmupRatio the share of all updates spent warming up ({@code warmup_ratio})
     * @param scheduler the schedule after the warm-up ({@code lr_scheduler_type})
     * @param maxGradNorm clip gradients to this global norm; 0 turns clipping off ({@code max_grad_norm})
     * @param gradientAccumulationSteps micro-batches per update ({@code gradient_accumulation_steps})
     * @param loggingSteps updates between lines of the log ({@code logging_steps})
     * @param earlyStoppingPatience stop after this many epochs without a better dev accuracy; 0 never stops early
     * @param seed the seed of the shuffling
     * @param outputDir where {@code trainer_log.jsonl}, {@code training_loss.png} and the best adapter
     *     ({@code best/}) go; null for none of them
     * @param progress where the progress bar goes; null for none
     * @param plotLoss whether {@code training_loss.png} is drawn in the output directory ({@code plot_loss})
     */
    public record Settings(int epochs, int batchSize, float learningRate, float weightDecay, float warmupRatio,
            LearningRateSchedule.Kind scheduler, float maxGradNorm, int gradientAccumulationSteps, int loggingSteps,
            int earlyStoppingPatience, long seed, Path outputDir, PrintStream progress, boolean plotLoss) {
        /** Settings that draw the plot whenever there is an output directory. */
        public Settings(int epochs, int batchSize, float learningRate, float weightDecay, float warmupRatio,
                LearningRateSchedule.Kind scheduler, float maxGradNorm, int gradientAccumulationSteps, int loggingSteps,
                int earlyStoppingPatience, long seed, Path outputDir, PrintStream progress) {
            this(epochs, batchSize, learningRate, weightDecay, warmupRatio, scheduler, maxGradNorm,
                    gradientAccumulationSteps, loggingSteps, earlyStoppingPatience, seed, outputDir, progress, true);
        }

        /** Validates the settings, naming the first bad one. */
        public Settings {
            positive("num_train_epochs", epochs);
            positive("per_device_train_batch_size", batchSize);
            positive("gradient_accumulation_steps", gradientAccumulationSteps);
            positive("logging_steps", loggingSteps);
            if (!(learningRate > 0) || !Float.isFinite(learningRate)) {
                throw new IllegalArgumentException("learning_rate must be a positive number, got " + learningRate);
            }
            if (!(weightDecay >= 0) || !(warmupRatio >= 0 && warmupRatio < 1) || !(maxGradNorm >= 0)
                    || earlyStoppingPatience < 0) {
                throw new IllegalArgumentException("need weight_decay >= 0, 0 <= warmup_ratio < 1, max_grad_norm >= 0"
                        + " and patience >= 0, got " + weightDecay + ", " + warmupRatio + ", " + maxGradNorm + ", "
                        + earlyStoppingPatience);
            }
            java.util.Objects.requireNonNull(scheduler, "lr_scheduler_type");
        }

        private static void positive(String name, int value) {
            if (value <= 0) {
                throw new IllegalArgumentException(name + " must be a positive integer, got " + value);
            }
        }
    }

    /**
     * What one epoch did.
     *
     * @param epoch the epoch, from 1
     * @param steps optimizer updates in the epoch
     * @param meanLoss the mean training loss over the epoch's micro-batches
     * @param devLoss the mean cross-entropy on the dev data (NaN without dev data)
     * @param devAccuracy the dev accuracy after the epoch (NaN without dev data)
     * @param devMacroF1 the dev macro F1 after the epoch (NaN without dev data)
     * @param seconds the epoch's wall time, evaluation included
     */
    public record EpochReport(int epoch, int steps, float meanLoss, float devLoss, float devAccuracy, float devMacroF1,
            double seconds) {}

    /**
     * The loss and metrics of a model on some labelled data.
     *
     * @param loss the mean cross-entropy, or for regression the mean squared error
     * @param metrics accuracy and F1; null for regression
     */
    public record Evaluation(float loss, ClassificationMetrics metrics) {}

    /** Trains, reporting each epoch to {@code onEpoch}; stops early if the settings say so. */
    public List<EpochReport> fit(List<LabeledText> train, List<LabeledText> dev, Settings settings,
            Consumer<EpochReport> onEpoch) {
        Random random = new Random(settings.seed());
        int[] lengths = new int[train.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = tokenizer.ids(train.get(i).text()).length;
        }
        int microBatches = (train.size() + settings.batchSize() - 1) / settings.batchSize();
        int updatesPerEpoch = (microBatches + settings.gradientAccumulationSteps() - 1) / settings.gradientAccumulationSteps();
        int totalUpdates = updatesPerEpoch * settings.epochs();
        LearningRateSchedule schedule = new LearningRateSchedule(settings.learningRate(),
                Math.round(settings.warmupRatio() * totalUpdates), totalUpdates, settings.scheduler());
        DefaultTrainingConfig config = new DefaultTrainingConfig(loss())
                .optOptimizer(Optimizer.adamW().optLearningRateTracker(schedule)
                        .optWeightDecays(settings.weightDecay()).build());
        List<Parameter> trainable = this.trainable.get();
        List<EpochReport> reports = new ArrayList<>();
        long start = System.nanoTime();
        long tokens = 0;
        int update = 0;
        List<TrainingPlot.Point> lossCurve = new ArrayList<>();
        List<TrainingPlot.Point> accuracyCurve = new ArrayList<>();
        float bestScore = Float.NEGATIVE_INFINITY;
        int epochsWithoutGain = 0;
        try (Trainer trainer = trainers.apply(config);
                TrainerLog log = settings.outputDir() == null ? null : new TrainerLog(settings.outputDir())) {
            for (int epoch = 1; epoch <= settings.epochs(); epoch++) {
                long epochStart = System.nanoTime();
                List<List<Integer>> batches = bucketedBatches(lengths, settings.batchSize(), random);
                double epochLoss = 0;
                double windowLoss = 0;
                int windowCount = 0;
                for (int b = 0; b < batches.size(); b += settings.gradientAccumulationSteps()) {
                    List<List<Integer>> group = batches.subList(b, Math.min(batches.size(), b + settings.gradientAccumulationSteps()));
                    for (List<Integer> batch : group) {
                        float loss = forwardBackward(trainer, rows(train, batch), group.size(), null);
                        if (!Float.isFinite(loss)) {
                            throw new IllegalStateException("training diverged: the loss is " + loss + " at update "
                                    + (update + 1) + " (epoch " + epoch + "); lower the learning rate ("
                                    + settings.learningRate() + ")");
                        }
                        epochLoss += loss;
                        windowLoss += loss;
                        windowCount++;
                        for (int i : batch) {
                            tokens += lengths[i];
                        }
                    }
                    if (settings.maxGradNorm() > 0) {
                        GradientClipping.clipByGlobalNorm(trainable, settings.maxGradNorm());
                    }
                    trainer.step();
                    update++;
                    double elapsed = (System.nanoTime() - start) / 1e9;
                    if (settings.progress() != null) {
                        drawProgress(settings.progress(), update, totalUpdates, (float) (windowLoss / windowCount), elapsed);
                    }
                    if (log != null && update % settings.loggingSteps() == 0) {
                        lossCurve.add(new TrainingPlot.Point(update, windowLoss / windowCount));
                        Map<String, Object> line = progressFields(update, totalUpdates, updatesPerEpoch, elapsed);
                        line.put("loss", round(windowLoss / windowCount));
                        line.put("lr", schedule.at(update - 1));
                        line.put("throughput", round(tokens / elapsed));
                        log.write(line);
                        windowLoss = 0;
                        windowCount = 0;
                    }
                }
                if (settings.progress() != null) {
                    settings.progress().println();
                }
                Evaluation eval = dev.isEmpty() ? null : evaluate(dev, settings.batchSize());
                EpochReport report = new EpochReport(epoch, (batches.size() + settings.gradientAccumulationSteps() - 1)
                        / settings.gradientAccumulationSteps(), (float) (epochLoss / batches.size()),
                        eval == null ? Float.NaN : eval.loss(),
                        eval == null || regression ? Float.NaN : (float) eval.metrics().accuracy(),
                        eval == null || regression ? Float.NaN : (float) eval.metrics().macroF1(),
                        (System.nanoTime() - epochStart) / 1e9);
                reports.add(report);
                if (log != null && eval != null) {
                    Map<String, Object> line = progressFields(update, totalUpdates, updatesPerEpoch,
                            (System.nanoTime() - start) / 1e9);
                    line.put("eval_loss", round(eval.loss()));
                    if (!regression) {
                        line.put("accuracy", round(eval.metrics().accuracy()));
                        line.put("f1", round(eval.metrics().macroF1()));
                        accuracyCurve.add(new TrainingPlot.Point(update, eval.metrics().accuracy()));
                    }
                    log.write(line);
                    if (settings.plotLoss()) {
                        TrainingPlot.write(settings.outputDir().resolve(PLOT_FILE), "training loss and dev accuracy",
                                lossCurve, accuracyCurve, totalUpdates);
                    }
                }
                onEpoch.accept(report);
                // the best epoch: the highest dev accuracy, or for regression the lowest dev loss
                float score = eval == null ? Float.NaN : regression ? -eval.loss() : report.devAccuracy();
                if (eval != null && score > bestScore) {
                    bestScore = score;
                    epochsWithoutGain = 0;
                    if (settings.outputDir() != null && peft != null) {
                        peft.saveAdapter(settings.outputDir().resolve("best"));
                    }
                } else if (++epochsWithoutGain >= settings.earlyStoppingPatience() && settings.earlyStoppingPatience() > 0) {
                    break;
                }
            }
            if (log != null && settings.plotLoss()) {
                TrainingPlot.write(settings.outputDir().resolve(PLOT_FILE), "training loss and dev accuracy", lossCurve,
                        accuracyCurve, totalUpdates);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return reports;
    }

    private static Map<String, Object> progressFields(int update, int total, int perEpoch, double elapsed) {
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("current_steps", update);
        line.put("total_steps", total);
        line.put("epoch", round((double) update / perEpoch));
        line.put("percentage", round(100.0 * update / total));
        line.put("elapsed_time", TrainerLog.hms(Duration.ofMillis((long) (elapsed * 1000))));
        line.put("remaining_time", TrainerLog.hms(Duration.ofMillis((long) (elapsed / update * (total - update) * 1000))));
        return line;
    }

    private static double round(double v) {
        return Math.round(v * 1e4) / 1e4;
    }

    private static void drawProgress(PrintStream out, int update, int total, float loss, double elapsed) {
        int width = 30;
        int filled = (int) ((long) width * update / total);
        String bar = "#".repeat(filled) + ".".repeat(width - filled);
        out.printf(Locale.ROOT, "\r[%s] %d/%d loss %.4f, %s left   ", bar, update, total, loss,
                TrainerLog.hms(Duration.ofMillis((long) (elapsed / update * (total - update) * 1000))));
        out.flush();
    }

    /**
     * Shuffles the examples, sorts them by token count within groups of {@value #BUCKET_BATCHES}
     * batches so that a batch pads little, and shuffles the order of the batches.
     */
    private static List<List<Integer>> bucketedBatches(int[] lengths, int batchSize, Random random) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            order.add(i);
        }
        Collections.shuffle(order, random);
        List<List<Integer>> batches = new ArrayList<>();
        int group = batchSize * BUCKET_BATCHES;
        for (int from = 0; from < order.size(); from += group) {
            List<Integer> bucket = new ArrayList<>(order.subList(from, Math.min(order.size(), from + group)));
            bucket.sort(Comparator.comparingInt(i -> lengths[i]));
            for (int b = 0; b < bucket.size(); b += batchSize) {
                batches.add(bucket.subList(b, Math.min(bucket.size(), b + batchSize)));
            }
        }
        Collections.shuffle(batches, random);
        return batches;
    }

    private static List<LabeledText> rows(List<LabeledText> data, List<Integer> indices) {
        List<LabeledText> out = new ArrayList<>(indices.size());
        indices.forEach(i -> out.add(data.get(i)));
        return out;
    }

    /** Forward and backward of one micro-batch, its loss divided by {@code microBatches} so gradients average. */
    private float forwardBackward(Trainer trainer, List<LabeledText> batch, int microBatches, long[] phaseEnds) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
            NDList inputs = tokenizer.encode(scope, texts(batch));
            float[] targets = targets(batch);
            NDList target = new NDList(regression ? scope.create(targets, new Shape(targets.length, 1))
                    : scope.create(targets));
            mark(phaseEnds, StepPhases.ENCODE);
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDList predictions = trainer.forward(inputs, target);
                NDArray loss = trainer.getLoss().evaluate(target, predictions);
                float value = loss.getFloat();
                mark(phaseEnds, StepPhases.FORWARD);
                collector.backward(microBatches == 1 ? loss : loss.div(NativeScalars.of(scope, microBatches)));
                mark(phaseEnds, StepPhases.BACKWARD);
                return value;
            }
        }
    }

    private static void mark(long[] phaseEnds, int phase) {
        if (phaseEnds != null) {
            phaseEnds[phase] = System.nanoTime();
        }
    }

    /**
     * Returns the mean cross-entropy, accuracy and macro F1 of the model on {@code data}; for
     * regression, the mean squared error.
     */
    public Evaluation evaluate(List<LabeledText> data, int batchSize) {
        Block block = model.getBlock();
        int[] predicted = new int[data.size()];
        float[] truth = targets(data);
        double lossSum = 0;
        try (NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < data.size(); from += batchSize) {
                try (NDManager batch = scope.newSubManager()) {
                    List<LabeledText> chunk = data.subList(from, Math.min(data.size(), from + batchSize));
                    NDArray outputs = block.forward(ps, tokenizer.encode(batch, texts(chunk)), false).singletonOrThrow();
                    if (regression) {
                        float[] values = outputs.toFloatArray();
                        for (int i = 0; i < values.length; i++) {
                            double error = values[i] - truth[from + i];
                            lossSum += error * error;
                        }
                        continue;
                    }
                    float[] logProbs = outputs.logSoftmax(1).toFloatArray();
                    long[] best = outputs.argMax(1).toLongArray();
                    for (int i = 0; i < best.length; i++) {
                        predicted[from + i] = (int) best[i];
                        lossSum -= logProbs[i * labels.size() + (int) truth[from + i]];
                    }
                }
            }
        }
        if (regression) {
            return new Evaluation((float) (lossSum / data.size()), null);
        }
        int[] truthIndices = new int[truth.length];
        for (int i = 0; i < truth.length; i++) {
            truthIndices[i] = (int) truth[i];
        }
        return new Evaluation((float) (lossSum / data.size()), ClassificationMetrics.of(predicted, truthIndices, labels.size()));
    }

    /**
     * The wall time of one update split into its phases, in milliseconds: tokenizing the texts and
     * creating the input arrays, the forward pass with the loss, the backward pass, gradient
     * clipping, and the optimizer step. On the CPU, PyTorch runs each phase's operations before
     * returning, so the phases add up to the update.
     */
    public record StepPhases(double encodeMs, double forwardMs, double backwardMs, double clipMs, double updateMs) {
        static final int START = 0;
        static final int ENCODE = 1;
        static final int FORWARD = 2;
        static final int BACKWARD = 3;
        static final int CLIP = 4;
        static final int UPDATE = 5;

        static StepPhases of(long[] ends) {
            return new StepPhases(ms(ends, ENCODE), ms(ends, FORWARD), ms(ends, BACKWARD), ms(ends, CLIP), ms(ends, UPDATE));
        }

        private static double ms(long[] ends, int phase) {
            return (ends[phase] - ends[phase - 1]) / 1e6;
        }

        /** The whole update. */
        public double totalMs() {
            return encodeMs + forwardMs + backwardMs + clipMs + updateMs;
        }
    }

    /**
     * Runs {@code steps} updates of AdamW on one fixed batch (forward, backward, clipping at norm 1
     * and the optimizer step) and returns each update's phases, for benchmarks and profiles.
     */
    public List<StepPhases> profileSteps(List<LabeledText> batch, float learningRate, int steps) {
        DefaultTrainingConfig config = new DefaultTrainingConfig(loss())
                .optOptimizer(Optimizer.adamW().optLearningRateTracker(Tracker.fixed(learningRate)).build());
        List<Parameter> trainableNow = trainable.get();
        List<StepPhases> phases = new ArrayList<>(steps);
        long[] ends = new long[StepPhases.UPDATE + 1];
        try (Trainer trainer = trainers.apply(config)) {
            for (int i = 0; i < steps; i++) {
                ends[StepPhases.START] = System.nanoTime();
                forwardBackward(trainer, batch, 1, ends);
                GradientClipping.clipByGlobalNorm(trainableNow, 1);
                mark(ends, StepPhases.CLIP);
                trainer.step();
                mark(ends, StepPhases.UPDATE);
                phases.add(StepPhases.of(ends));
            }
        }
        return phases;
    }

    /** Returns the fraction of {@code data} the model classifies correctly (classification only). */
    public float accuracy(List<LabeledText> data, int batchSize) {
        if (regression) {
            throw new IllegalStateException("accuracy is for classification; a regression's evaluate gives its loss");
        }
        return (float) evaluate(data, batchSize).metrics().accuracy();
    }

    private static List<String> texts(List<LabeledText> rows) {
        List<String> out = new ArrayList<>(rows.size());
        rows.forEach(r -> out.add(r.text()));
        return out;
    }

    /** The training targets: label indices, or for regression the labels read as numbers. */
    private float[] targets(List<LabeledText> rows) {
        float[] out = new float[rows.size()];
        for (int i = 0; i < out.length; i++) {
            String label = rows.get(i).label();
            if (regression) {
                try {
                    out[i] = Float.parseFloat(label);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("regression target \"" + label + "\" is not a number", e);
                }
                if (!Float.isFinite(out[i])) {
                    throw new IllegalArgumentException("regression target " + label + " is not finite");
                }
                continue;
            }
            int index = labels.indexOf(label);
            if (index < 0) {
                throw new IllegalArgumentException("label \"" + label + "\" is not one of " + labels);
            }
            out[i] = index;
        }
        return out;
    }
}
