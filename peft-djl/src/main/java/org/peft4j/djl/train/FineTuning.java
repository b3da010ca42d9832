package org.peft4j.djl.train;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingConfig;
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
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.internal.NativeScalars;

/**
 * Fine-tunes a model on any {@link TrainingTask}: DJL's own {@link Trainer} for the forward and
 * backward passes and {@link AdamW} for the updates (DJL's AdamW arithmetic without its copies), a
 * warm-up then linear or cosine learning-rate schedule, gradient clipping by global norm, gradient
 * accumulation, length-bucketed mini-batches, evaluation on dev rows after every epoch (the task's
 * loss and metrics), early stopping on the task's selection metric (or the dev loss), the best
 * adapter saved, and LLaMA-Factory's {@code trainer_log.jsonl} and {@code training_loss.png}
 * (redrawn after every evaluation and at the end) plus a console progress bar. With a
 * {@link PeftModel}, only the active adapter's parameters (and the modules saved with it) train.
 * The task decides what a row is and how it is scored: {@link TextClassificationTask} for
 * sequence classification and regression.
 *
 * @param <R> the task's row
 */
public final class FineTuning<R> {
    /** Batches are sorted by length within groups of this many batches, then the batches are shuffled. */
    private static final int BUCKET_BATCHES = 50;
    /** The curve's file name in the output directory, as LLaMA-Factory names it. */
    public static final String PLOT_FILE = "training_loss.png";

    private final Model model;
    private final PeftModel peft;
    private final Supplier<List<Parameter>> trainable;
    private final Function<TrainingConfig, Trainer> trainers;
    private final TrainingTask<R> task;

    /**
     * Trains the active adapter of {@code peft} (and the modules saved with it) on {@code task}.
     *
     * @param model the DJL model whose block is {@code peft}'s block
     * @param peft the model with its adapter attached and active
     */
    public FineTuning(Model model, PeftModel peft, TrainingTask<R> task) {
        this(model, peft, () -> ((AttachedAdapter) peft.adapter(peft.activeAdapter())).trainableParameterList(),
                config -> peft.newTrainer(model, config), task);
    }

    /**
     * Trains whatever parameters of {@code model}'s block are unfrozen, such as every parameter
     * (full fine-tuning) or only a head (a linear probe), for comparisons with PEFT. No best adapter
     * is saved.
     *
     * @param trainable the unfrozen parameters, which are clipped and updated
     * @param trainers creates DJL trainers (for a model loaded from disk, one that keeps the frozen frozen)
     */
    public FineTuning(Model model, Supplier<List<Parameter>> trainable, Function<TrainingConfig, Trainer> trainers,
            TrainingTask<R> task) {
        this(model, null, trainable, trainers, task);
    }

    private FineTuning(Model model, PeftModel peft, Supplier<List<Parameter>> trainable,
            Function<TrainingConfig, Trainer> trainers, TrainingTask<R> task) {
        this.model = model;
        this.peft = peft;
        this.trainable = trainable;
        this.trainers = trainers;
        this.task = Objects.requireNonNull(task, "task");
    }

    /** Returns the task. */
    public TrainingTask<R> task() {
        return task;
    }

    /**
     * The settings of a run, with LLaMA-Factory's names in the comments and in the messages of
     * invalid values. Built with {@link #builder()}: {@code setX} for what a run needs, {@code optX}
     * for what has a default.
     */
    public static final class Settings {
        private final int epochs;
        private final int batchSize;
        private final float learningRate;
        private final float weightDecay;
        private final float warmupRatio;
        private final LearningRateSchedule.Kind scheduler;
        private final float maxGradNorm;
        private final int gradientAccumulationSteps;
        private final int loggingSteps;
        private final int earlyStoppingPatience;
        private final long seed;
        private final Path outputDir;
        private final PrintStream progress;
        private final boolean plotLoss;
        private final float loraplusLrRatio;
        private final boolean shuffle;
        private final DataParallel dataParallel;
        private final Checkpointing checkpointing;

        private Settings(Builder b) {
            required("num_train_epochs", "setEpochs", b.epochs);
            required("per_device_train_batch_size", "setBatchSize", b.batchSize);
            required("learning_rate", "setLearningRate", b.learningRate);
            positive("num_train_epochs", b.epochs);
            positive("per_device_train_batch_size", b.batchSize);
            positive("gradient_accumulation_steps", b.gradientAccumulationSteps);
            positive("logging_steps", b.loggingSteps);
            if (!(b.learningRate > 0) || !Float.isFinite(b.learningRate)) {
                throw new IllegalArgumentException("learning_rate must be a positive number, got " + b.learningRate);
            }
            if (!(b.weightDecay >= 0) || !Float.isFinite(b.weightDecay)) {
                throw new IllegalArgumentException("weight_decay must be a number >= 0, got " + b.weightDecay);
            }
            if (!(b.warmupRatio >= 0 && b.warmupRatio < 1)) {
                throw new IllegalArgumentException("warmup_ratio must be in [0, 1), got " + b.warmupRatio);
            }
            if (!(b.maxGradNorm >= 0) || !Float.isFinite(b.maxGradNorm)) {
                throw new IllegalArgumentException("max_grad_norm must be a number >= 0 (0: no clipping), got "
                        + b.maxGradNorm);
            }
            if (!(b.loraplusLrRatio > 0) || !Float.isFinite(b.loraplusLrRatio)) {
                throw new IllegalArgumentException("loraplus_lr_ratio must be a positive number (1: plain LoRA), got "
                        + b.loraplusLrRatio);
            }
            if (b.earlyStoppingPatience < 0) {
                throw new IllegalArgumentException("early stopping patience must be >= 0 (0: never stop early), got "
                        + b.earlyStoppingPatience);
            }
            epochs = b.epochs;
            batchSize = b.batchSize;
            learningRate = b.learningRate;
            weightDecay = b.weightDecay;
            warmupRatio = b.warmupRatio;
            scheduler = Objects.requireNonNull(b.scheduler, "lr_scheduler_type");
            maxGradNorm = b.maxGradNorm;
            gradientAccumulationSteps = b.gradientAccumulationSteps;
            loggingSteps = b.loggingSteps;
            earlyStoppingPatience = b.earlyStoppingPatience;
            seed = b.seed;
            outputDir = b.outputDir;
            progress = b.progress;
            plotLoss = b.plotLoss;
            loraplusLrRatio = b.loraplusLrRatio;
            shuffle = b.shuffle;
            dataParallel = b.dataParallel;
            checkpointing = b.checkpointing;
            if (checkpointing != null && checkpointing.saveSteps() < 0) {
                throw new IllegalArgumentException("save_steps must be >= 0 (0: never), got " + checkpointing.saveSteps());
            }
        }

        private static void positive(String name, int value) {
            if (value <= 0) {
                throw new IllegalArgumentException(name + " must be a positive integer, got " + value);
            }
        }

        private static void required(String name, String setter, Object value) {
            if (value == null) {
                throw new IllegalArgumentException(name + " is not set: call " + setter);
            }
        }

        /** Starts settings; the epochs, the batch size and the learning rate must be set. */
        public static Builder builder() {
            return new Builder();
        }

        /** Passes over the training data ({@code num_train_epochs}). */
        public int epochs() {
            return epochs;
        }

        /** Examples per micro-batch ({@code per_device_train_batch_size}). */
        public int batchSize() {
            return batchSize;
        }

        /** The peak learning rate ({@code learning_rate}). */
        public float learningRate() {
            return learningRate;
        }

        /** AdamW's decoupled weight decay ({@code weight_decay}). */
        public float weightDecay() {
            return weightDecay;
        }

        /** The share of all updates spent warming up ({@code warmup_ratio}). */
        public float warmupRatio() {
            return warmupRatio;
        }

        /** The schedule after the warm-up ({@code lr_scheduler_type}). */
        public LearningRateSchedule.Kind scheduler() {
            return scheduler;
        }

        /** The global gradient norm gradients are clipped to; 0 turns clipping off ({@code max_grad_norm}). */
        public float maxGradNorm() {
            return maxGradNorm;
        }

        /** Micro-batches per update ({@code gradient_accumulation_steps}). */
        public int gradientAccumulationSteps() {
            return gradientAccumulationSteps;
        }

        /** Updates between lines of {@code trainer_log.jsonl} ({@code logging_steps}). */
        public int loggingSteps() {
            return loggingSteps;
        }

        /** Epochs without a better dev score before training stops; 0 never stops early. */
        public int earlyStoppingPatience() {
            return earlyStoppingPatience;
        }

        /** The seed of the shuffling ({@code seed}). */
        public long seed() {
            return seed;
        }

        /**
         * Where {@code trainer_log.jsonl}, {@code training_loss.png} and the best adapter
         * ({@code best/}) go; null for none of them ({@code output_dir}).
         */
        public Path outputDir() {
            return outputDir;
        }

        /** Where the progress bars go; null for none. */
        public PrintStream progress() {
            return progress;
        }

        /** Whether {@code training_loss.png} is drawn in the output directory ({@code plot_loss}). */
        public boolean plotLoss() {
            return plotLoss;
        }

        /**
         * LoRA+'s ratio of the B matrices' learning rate to the rate ({@code loraplus_lr_ratio}); 1
         * for plain LoRA. See {@link #loraplusMultipliers}.
         */
        public float loraplusLrRatio() {
            return loraplusLrRatio;
        }

        /** Whether each epoch shuffles the rows (into batches of similar length); false takes them in order. */
        public boolean shuffle() {
            return shuffle;
        }

        /** The data-parallel run this replica belongs to, or null when it trains alone. */
        public DataParallel dataParallel() {
            return dataParallel;
        }

        /** Where the run keeps its state every few updates and resumes from, or null for nowhere. */
        public Checkpointing checkpointing() {
            return checkpointing;
        }

        /**
         * Whether the engine's random generator is seeded before every update from the seed and the
         * update's number, so that the dropout masks of an update do not depend on what ran before it:
         * with checkpointing (a resumed run draws the uninterrupted run's masks) and in a
         * data-parallel replica (whose runs then repeat exactly).
         */
        public boolean seedsEveryUpdate() {
            return checkpointing != null || dataParallel != null;
        }

        /** Builds {@link Settings}; {@link #build()} checks every value and names the first bad one. */
        public static final class Builder {
            private Integer epochs;
            private Integer batchSize;
            private Float learningRate;
            private float weightDecay;
            private float warmupRatio;
            private LearningRateSchedule.Kind scheduler = LearningRateSchedule.Kind.LINEAR;
            private float maxGradNorm = 1f;
            private int gradientAccumulationSteps = 1;
            private int loggingSteps = 10;
            private int earlyStoppingPatience;
            private long seed = 42;
            private Path outputDir;
            private PrintStream progress;
            private boolean plotLoss = true;
            private float loraplusLrRatio = 1f;
            private boolean shuffle = true;
            private DataParallel dataParallel;
            private Checkpointing checkpointing;

            private Builder() {}

            /** Sets the passes over the training data ({@code num_train_epochs}); required. */
            public Builder setEpochs(int epochs) {
                this.epochs = epochs;
                return this;
            }

            /** Sets the examples per micro-batch ({@code per_device_train_batch_size}); required. */
            public Builder setBatchSize(int batchSize) {
                this.batchSize = batchSize;
                return this;
            }

            /** Sets the peak learning rate ({@code learning_rate}); required. */
            public Builder setLearningRate(float learningRate) {
                this.learningRate = learningRate;
                return this;
            }

            /** Sets AdamW's decoupled weight decay ({@code weight_decay}); default 0. */
            public Builder optWeightDecay(float weightDecay) {
                this.weightDecay = weightDecay;
                return this;
            }

            /** Sets the share of all updates spent warming up ({@code warmup_ratio}); default 0. */
            public Builder optWarmupRatio(float warmupRatio) {
                this.warmupRatio = warmupRatio;
                return this;
            }

            /** Sets the schedule after the warm-up ({@code lr_scheduler_type}); default linear. */
            public Builder optScheduler(LearningRateSchedule.Kind scheduler) {
                this.scheduler = scheduler;
                return this;
            }

            /** Sets the global norm gradients are clipped to, 0 for none ({@code max_grad_norm}); default 1. */
            public Builder optMaxGradNorm(float maxGradNorm) {
                this.maxGradNorm = maxGradNorm;
                return this;
            }

            /** Sets the micro-batches per update ({@code gradient_accumulation_steps}); default 1. */
            public Builder optGradientAccumulationSteps(int steps) {
                this.gradientAccumulationSteps = steps;
                return this;
            }

            /** Sets the updates between lines of the log ({@code logging_steps}); default 10. */
            public Builder optLoggingSteps(int steps) {
                this.loggingSteps = steps;
                return this;
            }

            /**
             * Stops after this many epochs without a better dev score (the task's selection metric, such as accuracy; without one, the
             * loss); default 0, never stop early. Epochs without dev data never count.
             */
            public Builder optEarlyStoppingPatience(int epochs) {
                this.earlyStoppingPatience = epochs;
                return this;
            }

            /** Sets the seed of the shuffling ({@code seed}); default 42. */
            public Builder optSeed(long seed) {
                this.seed = seed;
                return this;
            }

            /**
             * Sets where {@code trainer_log.jsonl}, {@code training_loss.png} and the best adapter
             * ({@code best/}) go; default none.
             */
            public Builder optOutputDir(Path outputDir) {
                this.outputDir = outputDir;
                return this;
            }

            /** Sets where the progress bars of training and evaluation go; default none. */
            public Builder optProgress(PrintStream progress) {
                this.progress = progress;
                return this;
            }

            /** Sets whether {@code training_loss.png} is drawn in the output directory ({@code plot_loss}); default true. */
            public Builder optPlotLoss(boolean plotLoss) {
                this.plotLoss = plotLoss;
                return this;
            }

            /**
             * Sets LoRA+'s ratio ({@code loraplus_lr_ratio}): the B matrices, and every 1-D parameter,
             * learn at this multiple of the rate (see {@link FineTuning#loraplusMultipliers}); default
             * 1, plain LoRA. The LoRA+ paper suggests about 16, with a learning rate about half the
             * plain one.
             */
            public Builder optLoraplusLrRatio(float ratio) {
                this.loraplusLrRatio = ratio;
                return this;
            }

            /**
             * Sets whether each epoch shuffles the training rows (default true: shuffled, then
             * grouped into batches of similar length); false takes them in the given order, batch
             * after batch, as a data-parallel replica whose rows the driver ordered does.
             */
            public Builder optShuffle(boolean shuffle) {
                this.shuffle = shuffle;
                return this;
            }

            /** Makes this run one replica of a data-parallel run (see {@link DataParallel}); default none. */
            public Builder optDataParallel(DataParallel dataParallel) {
                this.dataParallel = dataParallel;
                return this;
            }

            /**
             * Keeps the run's state every {@link Checkpointing#saveSteps()} updates and resumes from
             * the last one kept (see {@link Checkpointing}); default none. The engine's generator is
             * then seeded before every update (see {@link Settings#seedsEveryUpdate()}).
             */
            public Builder optCheckpointing(Checkpointing checkpointing) {
                this.checkpointing = checkpointing;
                return this;
            }

            /**
             * Returns the settings.
             *
             * @throws IllegalArgumentException naming the first value that is missing or out of range
             */
            public Settings build() {
                return new Settings(this);
            }
        }
    }

    /**
     * What one epoch did.
     *
     * @param epoch the epoch, from 1
     * @param steps optimizer updates in the epoch
     * @param meanLoss the mean training loss over the epoch's micro-batches
     * @param dev the loss and metrics on the dev rows after the epoch; null without dev rows
     * @param seconds the epoch's wall time, evaluation included
     */
    public record EpochReport(int epoch, int steps, float meanLoss, TaskEvaluation dev, double seconds) {
        /** Whether the epoch was evaluated on dev data. */
        public boolean hasDev() {
            return dev != null;
        }

        /** The dev loss, NaN without dev data. */
        public float devLoss() {
            return dev == null ? Float.NaN : (float) dev.loss();
        }

        /** A dev metric by name, NaN without dev data or without that metric. */
        public float devMetric(String name) {
            return dev == null ? Float.NaN : (float) dev.metric(name);
        }
    }

    /**
     * Trains, reporting each epoch to {@code onEpoch}; stops early if the settings say so.
     *
     * <p>With {@link Settings#checkpointing()}, a run that finds a saved state resumes from it: the
     * epochs before it are replayed (the same batches, the saved losses, no forward pass, no
     * evaluation of an epoch that ended before the state) and only the updates after it are computed.
     *
     * @throws IllegalStateException if training diverges: a training loss, a trainable weight or
     *     the dev loss is not finite (no best adapter is saved from such an epoch)
     * @throws IllegalArgumentException if the saved state belongs to another model, adapter or run
     * @throws UncheckedIOException if the state cannot be read or saved
     */
    public List<EpochReport> fit(List<R> train, List<R> dev, Settings settings,
            Consumer<EpochReport> onEpoch) {
        Random random = new Random(settings.seed());
        int[] lengths = new int[train.size()];
        for (int i = 0; i < lengths.length; i++) {
            lengths[i] = task.length(train.get(i));
        }
        int microBatches = (train.size() + settings.batchSize() - 1) / settings.batchSize();
        int updatesPerEpoch = (microBatches + settings.gradientAccumulationSteps() - 1) / settings.gradientAccumulationSteps();
        int totalUpdates = updatesPerEpoch * settings.epochs();
        LearningRateSchedule schedule = new LearningRateSchedule(settings.learningRate(),
                Math.round(settings.warmupRatio() * totalUpdates), totalUpdates, settings.scheduler());
        List<Parameter> trainable = this.trainable.get();
        DataParallel parallel = settings.dataParallel();
        List<EpochReport> reports = new ArrayList<>();
        long start = System.nanoTime();
        long tokens = 0;
        int update = 0;
        Curves curves = new Curves(totalUpdates);
        double windowLoss = 0;
        int windowCount = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        int epochsWithoutGain = 0;
        Checkpointing checkpointing = settings.checkpointing();
        try (Trainer trainer = trainers.apply(new DefaultTrainingConfig(task.loss()));
                AdamW optimizer = AdamW.builder().optLearningRateTracker(schedule).optWeightDecay(settings.weightDecay())
                        .optLearningRateMultipliers(loraplusMultipliers(trainable, settings.loraplusLrRatio())).build();
                TrainerLog log = settings.outputDir() == null ? null : new TrainerLog(settings.outputDir())) {
            TrainingState resumed = checkpointing == null ? null : checkpointing.latest();
            int resumeAt = 0;
            if (resumed != null) {
                if (resumed.update() > totalUpdates) {
                    throw new IllegalArgumentException("the saved state is after update " + resumed.update()
                            + ", but this run has " + totalUpdates + " updates: it is the state of another run");
                }
                resumed.restore(trainable, optimizer, "the saved state of update " + resumed.update());
                resumeAt = resumed.update();
                bestScore = resumed.bestScore();
                epochsWithoutGain = resumed.epochsWithoutGain();
            }
            for (int epoch = 1; epoch <= settings.epochs(); epoch++) {
                long epochStart = System.nanoTime();
                List<List<Integer>> batches = settings.shuffle() ? bucketedBatches(lengths, settings.batchSize(), random)
                        : orderedBatches(lengths.length, settings.batchSize());
                double epochLoss = 0;
                try (ProgressBar bar = settings.progress() == null ? null : new ProgressBar(settings.progress(),
                        "epoch " + epoch + "/" + settings.epochs(), updatesPerEpoch)) {
                    for (int b = 0; b < batches.size(); b += settings.gradientAccumulationSteps()) {
                        List<List<Integer>> group = batches.subList(b,
                                Math.min(batches.size(), b + settings.gradientAccumulationSteps()));
                        boolean replayed = update < resumeAt;
                        double updateLoss = replayed ? (double) resumed.lossOf(update + 1) * group.size() : 0;
                        if (settings.seedsEveryUpdate() && !replayed) {
                            model.getNDManager().getEngine().setRandomSeed((int) derivedSeed(settings.seed(), update + 1));
                        }
                        for (List<Integer> batch : group) {
                            for (int i : batch) {
                                tokens += lengths[i];
                            }
                            if (replayed) {
                                continue;
                            }
                            List<R> rows = rows(train, batch);
                            float loss = parallel == null ? forwardBackward(trainer, rows, group.size(), null)
                                    : parallel.forwardBackward(() -> forwardBackward(trainer, rows, group.size(), null));
                            if (!Float.isFinite(loss)) {
                                throw diverged("the training loss is " + loss + " at update " + (update + 1)
                                        + " (epoch " + epoch + ")", settings);
                            }
                            updateLoss += loss;
                        }
                        epochLoss += updateLoss;
                        windowLoss += updateLoss;
                        windowCount += group.size();
                        if (!replayed) {
                            if (parallel != null) {
                                parallel.beforeStep(trainable, update + 1);
                            }
                            optimizer.step(trainable, settings.maxGradNorm() > 0 ? GradientClipping.coefficient(
                                    GradientClipping.globalNorm(trainable), settings.maxGradNorm()) : 1f);
                        }
                        update++;
                        if (parallel != null && !replayed) {
                            parallel.afterStep(trainable, update);
                        }
                        curves.loss.add(new TrainingPlot.Point(update, updateLoss / group.size()));
                        if (bar != null) {
                            bar.update(b / settings.gradientAccumulationSteps() + 1,
                                    String.format(Locale.ROOT, "loss %.4f", updateLoss / group.size()));
                        }
                        if (update % settings.loggingSteps() == 0) {
                            logLoss(log, curves, update, windowLoss / windowCount, schedule, tokens, start,
                                    updatesPerEpoch);
                            windowLoss = 0;
                            windowCount = 0;
                        }
                        if (checkpointing != null && !replayed && checkpointing.saveSteps() > 0
                                && update % checkpointing.saveSteps() == 0) {
                            checkpointing.save(TrainingState.capture(update, trainable, optimizer, curves.lossValues(),
                                    bestScore, epochsWithoutGain, peft == null ? null : peft.checkpoint()));
                        }
                    }
                }
                if (update < resumeAt) {
                    continue; // an epoch that ended before the saved state: evaluated before it was saved
                }
                requireFinite(trainable, train.subList(0, Math.min(train.size(), settings.batchSize())), epoch,
                        settings);
                TaskEvaluation eval = dev.isEmpty() ? null : evaluate(dev, settings.batchSize(), settings.progress(), "dev");
                if (eval != null && !eval.isFinite()) {
                    throw diverged("the dev loss is " + eval.loss() + " after epoch " + epoch, settings);
                }
                EpochReport report = new EpochReport(epoch, (batches.size() + settings.gradientAccumulationSteps() - 1)
                        / settings.gradientAccumulationSteps(), (float) (epochLoss / batches.size()),
                        eval, (System.nanoTime() - epochStart) / 1e9);
                reports.add(report);
                if (log != null && eval != null) {
                    Map<String, Object> line = progressFields(update, totalUpdates, updatesPerEpoch,
                            (System.nanoTime() - start) / 1e9);
                    line.put("eval_loss", round(eval.loss()));
                    eval.metrics().forEach((name, value) -> line.put(name, round(value)));
                    if (eval.selectionMetric() != null) {
                        curves.metric.add(new TrainingPlot.Point(update, eval.metric(eval.selectionMetric())));
                        curves.metricName = eval.selectionMetric();
                    }
                    log.write(line);
                    if (settings.plotLoss()) {
                        curves.write(settings.outputDir());
                    }
                }
                onEpoch.accept(report);
                if (eval == null) {
                    continue; // nothing to choose the best epoch on, nothing to stop early on
                }
                // the best epoch: the highest selection metric, or without one the lowest dev loss
                double score = eval.score();
                if (score > bestScore) {
                    bestScore = score;
                    epochsWithoutGain = 0;
                    if (settings.outputDir() != null && peft != null) {
                        peft.saveAdapter(settings.outputDir().resolve("best"));
                    }
                } else if (++epochsWithoutGain >= settings.earlyStoppingPatience() && settings.earlyStoppingPatience() > 0) {
                    break;
                }
            }
            if (windowCount > 0) {
                // the last, partial window: a run shorter than logging_steps still logs its loss
                logLoss(log, curves, update, windowLoss / windowCount, schedule, tokens, start, updatesPerEpoch);
            }
            if (log != null && settings.plotLoss()) {
                curves.write(settings.outputDir());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return reports;
    }

    /**
     * LoRA+'s learning-rate multipliers (Hayou et al. 2024), grouped as PEFT's
     * {@code create_loraplus_optimizer} groups parameters ({@code peft/optimizers/loraplus.py}, lines
     * 72-113 in PEFT 0.21): the B matrices ({@code lora_B}) and every 1-D parameter (biases, norms,
     * DoRA magnitudes) learn at {@code ratio} times the rate, all others (A, whole matrices of saved
     * modules) at the rate. PEFT's group for LoRA on embedding layers has no counterpart here, as
     * peft4j's LoRA adapts Linear layers only; weight decay stays {@link Settings#weightDecay()} for
     * every parameter, with each one's own rate. Empty for a ratio of 1.
     */
    public static Map<Parameter, Float> loraplusMultipliers(List<Parameter> trainable, float ratio) {
        Map<Parameter, Float> out = new IdentityHashMap<>();
        if (ratio == 1f) {
            return out;
        }
        for (Parameter p : trainable) {
            if (p.getName().startsWith("lora_B.") || p.getArray().getShape().dimension() == 1) {
                out.put(p, ratio);
            }
        }
        return out;
    }

    /** The curves of {@code training_loss.png}: the loss of each update, its logged means, the dev selection metric. */
    private static final class Curves {
        final List<TrainingPlot.Point> loss = new ArrayList<>();
        final List<TrainingPlot.Point> meanLoss = new ArrayList<>();
        final List<TrainingPlot.Point> metric = new ArrayList<>();
        String metricName;
        final int totalUpdates;

        Curves(int totalUpdates) {
            this.totalUpdates = totalUpdates;
        }

        /** The loss of each update so far. */
        float[] lossValues() {
            float[] out = new float[loss.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) loss.get(i).value();
            }
            return out;
        }

        void write(Path outputDir) throws IOException {
            TrainingPlot.write(outputDir.resolve(PLOT_FILE), metricName == null ? "training loss"
                    : "training loss and dev " + metricName, loss, meanLoss, metric, metricName,
                    totalUpdates);
        }
    }

    /** Writes a loss line of {@code trainer_log.jsonl} (if there is a log) and adds the mean to the curve. */
    private static void logLoss(TrainerLog log, Curves curves, int update, double meanLoss, LearningRateSchedule schedule,
            long tokens, long start, int updatesPerEpoch) {
        curves.meanLoss.add(new TrainingPlot.Point(update, meanLoss));
        if (log == null) {
            return;
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        Map<String, Object> line = progressFields(update, curves.totalUpdates, updatesPerEpoch, elapsed);
        line.put("loss", round(meanLoss));
        line.put("lr", schedule.at(update - 1));
        line.put("throughput", round(tokens / elapsed));
        log.write(line);
    }

    /**
     * A seed derived from {@code seed} and a counter (an update's number, a row's index): SplitMix64's
     * finaliser of {@code seed + counter·φ}, so that it depends on these two numbers only and
     * neighbouring counters give unrelated seeds. Update u's random draws (dropout) are seeded with
     * {@code (int) derivedSeed(seed, u)} when {@link Settings#seedsEveryUpdate()}.
     */
    public static long derivedSeed(long seed, long counter) {
        long z = seed + counter * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static IllegalStateException diverged(String what, Settings settings) {
        return new IllegalStateException(String.format(Locale.ROOT,
                "training diverged: %s; lower the learning rate (learning_rate %.3g)", what, settings.learningRate()));
    }

    /**
     * Fails if a trainable weight holds NaN or an infinity, or if the model's outputs on a batch of
     * training rows are not finite: the losses alone do not show an update that overflowed the
     * weights after the last loss was computed, nor finite weights whose products overflow.
     */
    private void requireFinite(List<Parameter> trainable, List<R> rows, int epoch, Settings settings) {
        int bad = 0;
        try (NDManager scope = model.getNDManager().newSubManager()) {
            for (Parameter p : trainable) {
                NDArray weights = p.getArray();
                weights.tempAttach(scope);
                if (!finite(weights)) {
                    bad++;
                }
            }
            if (bad > 0) {
                throw diverged(bad + " of " + trainable.size() + " trainable weight arrays hold NaN or infinite values"
                        + " after epoch " + epoch, settings);
            }
            NDList outputs = model.getBlock().forward(new ParameterStore(scope, false),
                    task.batch(scope, rows).inputs(), false);
            if (!outputs.stream().allMatch(FineTuning::finite)) {
                throw diverged("the model's outputs on training rows are not finite after epoch " + epoch, settings);
            }
        }
    }

    private static boolean finite(NDArray array) {
        return !array.isNaN().logicalOr(array.isInfinite()).any().getBoolean();
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

    /** Rounds to four decimals; a value that is not finite stays as it is (never 0). */
    private static double round(double v) {
        return Double.isFinite(v) ? Math.round(v * 1e4) / 1e4 : v;
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

    /** Rows 0 to n - 1 in order, {@code batchSize} at a time. */
    private static List<List<Integer>> orderedBatches(int n, int batchSize) {
        List<List<Integer>> batches = new ArrayList<>();
        for (int from = 0; from < n; from += batchSize) {
            List<Integer> batch = new ArrayList<>();
            for (int i = from; i < Math.min(n, from + batchSize); i++) {
                batch.add(i);
            }
            batches.add(batch);
        }
        return batches;
    }

    private static <T> List<T> rows(List<T> data, List<Integer> indices) {
        List<T> out = new ArrayList<>(indices.size());
        indices.forEach(i -> out.add(data.get(i)));
        return out;
    }

    /** Forward and backward of one micro-batch, its loss divided by {@code microBatches} so gradients average. */
    private float forwardBackward(Trainer trainer, List<R> batch, int microBatches, long[] phaseEnds) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
            TrainingTask.Batch arrays = task.batch(scope, batch);
            NDList target = arrays.targets();
            mark(phaseEnds, StepPhases.ENCODE);
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDList predictions = trainer.forward(arrays.inputs(), target);
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

    /** Returns the task's loss and metrics of the model on {@code data}. */
    public TaskEvaluation evaluate(List<R> data, int batchSize) {
        return evaluate(data, batchSize, null, null);
    }

    /**
     * Returns the task's loss and metrics of the model on {@code data}, drawing a progress bar named
     * {@code label} on {@code progress} unless it is null.
     */
    public TaskEvaluation evaluate(List<R> data, int batchSize, PrintStream progress, String label) {
        return evaluate(data, batchSize, task.evaluator(), progress, label).result();
    }

    /**
     * Feeds the model's outputs on {@code data} to {@code evaluator}, batch by batch, and returns it,
     * for a caller that needs more of it than {@link TrainingTask.Evaluator#result()}.
     */
    public <E extends TrainingTask.Evaluator<R>> E evaluate(List<R> data, int batchSize, E evaluator,
            PrintStream progress, String label) {
        Block block = model.getBlock();
        try (ProgressBar bar = progress == null ? null : new ProgressBar(progress, label, data.size());
                NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < data.size(); from += batchSize) {
                try (NDManager batchScope = scope.newSubManager()) {
                    List<R> chunk = data.subList(from, Math.min(data.size(), from + batchSize));
                    TrainingTask.Batch batch = task.batch(batchScope, chunk);
                    evaluator.add(chunk, batch, block.forward(ps, batch.inputs(), false));
                }
                if (bar != null) {
                    bar.update(Math.min(data.size(), from + batchSize), "");
                }
            }
        }
        return evaluator;
    }

    /**
     * The wall time of one update split into its phases, in milliseconds: tokenizing the texts and
     * creating the input arrays, the forward pass with the loss, the backward pass, gradient
     * clipping (with {@link AdamW} only the global norm, as the scaling is part of its step), and
     * the optimizer step. On the CPU, PyTorch runs each phase's operations before returning, so the
     * phases add up to the update.
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

    /** The AdamW step that {@link #profileSteps} times. */
    public enum AdamWImplementation {
        /** {@link AdamW}, the clipping coefficient folded into its step, as {@link #fit} updates. */
        PEFT4J,
        /**
         * DJL's {@code Optimizer.adamW()} through {@link Trainer#step()}, after
         * {@link GradientClipping#clipByGlobalNorm} scaled the gradients: the same weights, the
         * step fit took before {@link AdamW}, for comparisons.
         */
        DJL
    }

    /**
     * Runs {@code steps} updates of AdamW (weight decay 0.01, PyTorch's and DJL's default) on one
     * fixed batch, with {@link AdamW}: forward, backward, the global gradient norm (clipping at 1)
     * and the optimizer step; returns each update's phases, for benchmarks and profiles.
     */
    public List<StepPhases> profileSteps(List<R> batch, float learningRate, int steps) {
        return profileSteps(batch, learningRate, steps, AdamWImplementation.PEFT4J);
    }

    /**
     * Runs {@code steps} updates of AdamW (weight decay 0.01, PyTorch's and DJL's default) on one
     * fixed batch with the given implementation: forward, backward, clipping at norm 1 and the
     * optimizer step; returns each update's phases, for benchmarks and profiles. Each call starts
     * with fresh optimizer moments.
     */
    public List<StepPhases> profileSteps(List<R> batch, float learningRate, int steps,
            AdamWImplementation implementation) {
        Tracker rate = Tracker.fixed(learningRate);
        DefaultTrainingConfig config = new DefaultTrainingConfig(task.loss());
        if (implementation == AdamWImplementation.DJL) {
            config.optOptimizer(Optimizer.adamW().optLearningRateTracker(rate).optWeightDecays(0.01f).build());
        }
        List<Parameter> trainableNow = trainable.get();
        List<StepPhases> phases = new ArrayList<>(steps);
        long[] ends = new long[StepPhases.UPDATE + 1];
        try (Trainer trainer = trainers.apply(config);
                AdamW optimizer = AdamW.builder().optLearningRateTracker(rate).optWeightDecay(0.01f).build()) {
            for (int i = 0; i < steps; i++) {
                ends[StepPhases.START] = System.nanoTime();
                forwardBackward(trainer, batch, 1, ends);
                if (implementation == AdamWImplementation.DJL) {
                    GradientClipping.clipByGlobalNorm(trainableNow, 1);
                    mark(ends, StepPhases.CLIP);
                    trainer.step();
                } else {
                    float coefficient = GradientClipping.coefficient(GradientClipping.globalNorm(trainableNow), 1);
                    mark(ends, StepPhases.CLIP);
                    optimizer.step(trainableNow, coefficient);
                }
                mark(ends, StepPhases.UPDATE);
                phases.add(StepPhases.of(ends));
            }
        }
        return phases;
    }
}
