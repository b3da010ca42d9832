package org.peft4j.djl.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * Sequence classification ({@code SEQ_CLS}) as a {@link TrainingTask}: each row is a text and its
 * label, the block's output is [B, classes] logits, the loss is the cross-entropy, and held-out
 * rows are scored by accuracy and macro F1 (logged as {@code accuracy} and {@code f1}; the best
 * epoch has the highest accuracy). For regression the block has one output, a row's label is its
 * target written as a number, the loss is the mean squared error and the best epoch has the lowest.
 */
public final class TextClassificationTask implements TrainingTask<LabeledText> {
    /** The name the accuracy is logged under. */
    public static final String ACCURACY = "accuracy";
    /** The name the macro F1 is logged under. */
    public static final String F1 = "f1";

    private final BertTokenizer tokenizer;
    private final List<String> labels;
    private final boolean regression;

    private TextClassificationTask(BertTokenizer tokenizer, List<String> labels) {
        this.tokenizer = tokenizer;
        this.labels = labels == null ? List.of() : List.copyOf(labels);
        this.regression = labels == null;
    }

    /**
     * Classification into {@code labels}.
     *
     * @param labels the class names; a text's label index is its position here
     */
    public static TextClassificationTask classification(BertTokenizer tokenizer, List<String> labels) {
        return new TextClassificationTask(tokenizer, labels);
    }

    /** Regression: one output, each row's label a number. */
    public static TextClassificationTask regression(BertTokenizer tokenizer) {
        return new TextClassificationTask(tokenizer, null);
    }

    /** Whether this is regression rather than classification. */
    public boolean isRegression() {
        return regression;
    }

    @Override
    public int length(LabeledText row) {
        return tokenizer.ids(row.text()).length;
    }

    @Override
    public Batch batch(NDManager manager, List<LabeledText> rows) {
        List<String> texts = new ArrayList<>(rows.size());
        rows.forEach(r -> texts.add(r.text()));
        float[] targets = targets(rows);
        NDArray target = regression ? manager.create(targets, new Shape(targets.length, 1)) : manager.create(targets);
        return new Batch(tokenizer.encode(manager, texts), new NDList(target));
    }

    @Override
    public Loss loss() {
        return regression ? new MeanSquaredErrorLoss() : Loss.softmaxCrossEntropyLoss();
    }

    @Override
    public Scorer evaluator() {
        return new Scorer();
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

    /**
     * Scores held-out rows: the mean cross-entropy, the predicted class of each row and so accuracy
     * and macro F1; for regression the mean squared error.
     */
    public final class Scorer implements TrainingTask.Evaluator<LabeledText> {
        private final List<Integer> predicted = new ArrayList<>();
        private final List<Integer> truth = new ArrayList<>();
        private double lossSum;
        private int rows;

        private Scorer() {}

        @Override
        public void add(List<LabeledText> batchRows, Batch batch, NDList outputs) {
            NDArray out = outputs.singletonOrThrow();
            float[] targets = batch.targets().singletonOrThrow().toFloatArray();
            rows += targets.length;
            if (regression) {
                float[] values = out.toFloatArray();
                for (int i = 0; i < values.length; i++) {
                    double error = values[i] - targets[i];
                    lossSum += error * error;
                }
                return;
            }
            float[] logProbs = out.logSoftmax(1).toFloatArray();
            long[] best = out.argMax(1).toLongArray();
            for (int i = 0; i < best.length; i++) {
                predicted.add((int) best[i]);
                truth.add((int) targets[i]);
                lossSum -= logProbs[i * labels.size() + (int) targets[i]];
            }
        }

        /** Accuracy, macro F1 and the confusion matrix of the rows added; null for regression. */
        public ClassificationMetrics classificationMetrics() {
            if (regression) {
                return null;
            }
            return ClassificationMetrics.of(predicted.stream().mapToInt(Integer::intValue).toArray(),
                    truth.stream().mapToInt(Integer::intValue).toArray(), labels.size());
        }

        @Override
        public TaskEvaluation result() {
            double loss = lossSum / rows;
            if (regression) {
                return new TaskEvaluation(loss, Map.of(), null);
            }
            ClassificationMetrics metrics = classificationMetrics();
            Map<String, Double> named = new LinkedHashMap<>();
            named.put(ACCURACY, metrics.accuracy());
            named.put(F1, metrics.macroF1());
            return new TaskEvaluation(loss, named, ACCURACY);
        }
    }
}
