package org.peft4j.djl.train;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.bert.BertTokenizer;

/**
 * Fine-tunes a PEFT-wrapped text classifier with DJL's own {@link Trainer}: shuffled mini-batches
 * padded to their own longest sequence, softmax cross-entropy, Adam, and the dev accuracy after
 * every epoch. Only the active adapter's parameters (and modules saved with it) train.
 */
public final class TextClassifierTraining {
    private final Model model;
    private final PeftModel peft;
    private final BertTokenizer tokenizer;
    private final List<String> labels;

    /**
     * @param model the DJL model whose block is {@code peft}'s block
     * @param peft the model with its adapter attached
     * @param tokenizer turns texts into the classifier's inputs
     * @param labels the class names; a text's label index is its position here
     */
    public TextClassifierTraining(Model model, PeftModel peft, BertTokenizer tokenizer, List<String> labels) {
        this.model = model;
        this.peft = peft;
        this.tokenizer = tokenizer;
        this.labels = List.copyOf(labels);
    }

    /**
     * The settings of a run.
     *
     * @param epochs passes over the training data
     * @param batchSize examples per step
     * @param learningRate Adam's learning rate
     * @param seed the seed of the shuffling
     */
    public record Settings(int epochs, int batchSize, float learningRate, long seed) {
        /** Validates the settings. */
        public Settings {
            if (epochs <= 0 || batchSize <= 0 || !(learningRate > 0) || !Float.isFinite(learningRate)) {
                throw new IllegalArgumentException("epochs and batchSize must be positive and learningRate a positive"
                        + " number, got epochs=" + epochs + ", batchSize=" + batchSize + ", learningRate=" + learningRate);
            }
        }
    }

    /**
     * What one epoch did.
     *
     * @param epoch the epoch, from 1
     * @param steps optimizer steps taken in the epoch
     * @param meanLoss the mean training loss over the epoch's steps
     * @param devAccuracy the accuracy on the dev data after the epoch (NaN without dev data)
     * @param seconds the epoch's wall time, evaluation included
     */
    public record EpochReport(int epoch, int steps, float meanLoss, float devAccuracy, double seconds) {}

    /** Trains for {@code settings.epochs()} epochs, reporting each to {@code onEpoch}. */
    public List<EpochReport> fit(List<LabeledText> train, List<LabeledText> dev, Settings settings,
            Consumer<EpochReport> onEpoch) {
        DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(settings.learningRate())).build());
        List<EpochReport> reports = new ArrayList<>();
        Random random = new Random(settings.seed());
        List<LabeledText> order = new ArrayList<>(train);
        try (Trainer trainer = peft.newTrainer(model, config)) {
            for (int epoch = 1; epoch <= settings.epochs(); epoch++) {
                long start = System.nanoTime();
                Collections.shuffle(order, random);
                double lossSum = 0;
                int steps = 0;
                for (int from = 0; from < order.size(); from += settings.batchSize()) {
                    List<LabeledText> batch = order.subList(from, Math.min(order.size(), from + settings.batchSize()));
                    float loss = step(trainer, batch);
                    steps++;
                    if (!Float.isFinite(loss)) {
                        throw new IllegalStateException("training diverged: the loss is " + loss + " at step " + steps
                                + " of epoch " + epoch + "; lower the learning rate (" + settings.learningRate() + ")");
                    }
                    lossSum += loss;
                }
                float devAccuracy = dev.isEmpty() ? Float.NaN : accuracy(dev, settings.batchSize());
                EpochReport report = new EpochReport(epoch, steps, (float) (lossSum / steps), devAccuracy,
                        (System.nanoTime() - start) / 1e9);
                reports.add(report);
                onEpoch.accept(report);
            }
        }
        return reports;
    }

    private float step(Trainer trainer, List<LabeledText> batch) {
        try (NDManager scope = trainer.getManager().newSubManager()) {
            NDList inputs = tokenizer.encode(scope, texts(batch));
            NDList target = new NDList(scope.create(labelIndices(batch)));
            float loss;
            try (GradientCollector collector = trainer.newGradientCollector()) {
                NDList predictions = trainer.forward(inputs, target);
                NDArray lossValue = trainer.getLoss().evaluate(target, predictions);
                collector.backward(lossValue);
                loss = lossValue.getFloat();
            }
            trainer.step();
            return loss;
        }
    }

    /** Returns the fraction of {@code data} the model classifies correctly. */
    public float accuracy(List<LabeledText> data, int batchSize) {
        int[] predicted = predict(texts(data), batchSize);
        float[] truth = labelIndices(data);
        int correct = 0;
        for (int i = 0; i < predicted.length; i++) {
            if (predicted[i] == (int) truth[i]) {
                correct++;
            }
        }
        return (float) correct / predicted.length;
    }

    /** Returns the predicted label index of each text. */
    public int[] predict(List<String> texts, int batchSize) {
        Block block = peft.block();
        int[] out = new int[texts.size()];
        try (NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < texts.size(); from += batchSize) {
                try (NDManager batch = scope.newSubManager()) {
                    List<String> chunk = texts.subList(from, Math.min(texts.size(), from + batchSize));
                    NDArray logits = block.forward(ps, tokenizer.encode(batch, chunk), false).singletonOrThrow();
                    long[] best = logits.argMax(1).toLongArray();
                    for (int i = 0; i < best.length; i++) {
                        out[from + i] = (int) best[i];
                    }
                }
            }
        }
        return out;
    }

    private static List<String> texts(List<LabeledText> rows) {
        List<String> out = new ArrayList<>(rows.size());
        rows.forEach(r -> out.add(r.text()));
        return out;
    }

    private float[] labelIndices(List<LabeledText> rows) {
        float[] out = new float[rows.size()];
        for (int i = 0; i < out.length; i++) {
            int index = labels.indexOf(rows.get(i).label());
            if (index < 0) {
                throw new IllegalArgumentException("label \"" + rows.get(i).label() + "\" is not one of " + labels);
            }
            out[i] = index;
        }
        return out;
    }
}
