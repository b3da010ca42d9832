package org.peft4j.djl.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A model's loss and metrics on held-out rows, as a {@link TrainingTask.Evaluator} computes them.
 * The best epoch is the one with the highest {@code selectionMetric}, or without one the lowest loss.
 *
 * @param loss the task's loss on the rows; not finite if any output of the model was not
 * @param metrics the task's metrics by the names {@code trainer_log.jsonl} records them under
 *     (such as {@code accuracy}, {@code f1}, {@code recall@10}), in the order they are logged
 * @param selectionMetric the metric, one of {@code metrics}, that picks the best epoch (higher is
 *     better); null to pick the lowest loss
 */
public record TaskEvaluation(double loss, Map<String, Double> metrics, String selectionMetric) {
    /** Copies the metrics and checks that the selection metric is one of them. */
    public TaskEvaluation {
        metrics = Collections.unmodifiableMap(new LinkedHashMap<>(Objects.requireNonNull(metrics, "metrics")));
        if (selectionMetric != null && !metrics.containsKey(selectionMetric)) {
            throw new IllegalArgumentException("selection metric " + selectionMetric + " is not one of " + metrics.keySet());
        }
    }

    /** Whether the loss, and so every output it was computed from, is finite. */
    public boolean isFinite() {
        return Double.isFinite(loss);
    }

    /** The score the best epoch maximizes: the selection metric, or the negated loss. */
    public double score() {
        return selectionMetric == null ? -loss : metrics.get(selectionMetric);
    }

    /** Returns a metric, or NaN if this evaluation has none of that name. */
    public double metric(String name) {
        return metrics.getOrDefault(name, Double.NaN);
    }
}
