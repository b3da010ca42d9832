package org.peft4j.djl.train;

/**
 * Accuracy and macro-averaged F1 of predicted against true class indices.
 *
 * @param accuracy the fraction predicted correctly
 * @param macroF1 the mean over classes of 2·precision·recall / (precision + recall), a class with
 *     no true and no predicted example counting as 0
 * @param confusion counts[true][predicted]
 */
public record ClassificationMetrics(double accuracy, double macroF1, long[][] confusion) {
    /**
     * Computes the metrics of {@code predicted} against {@code truth}, both class indices below {@code classes}.
     *
     * @throws IllegalArgumentException if the arrays differ in length or are empty
     */
    public static ClassificationMetrics of(int[] predicted, int[] truth, int classes) {
        if (predicted.length != truth.length || predicted.length == 0) {
            throw new IllegalArgumentException("need as many predictions as labels, and at least one: "
                    + predicted.length + " vs " + truth.length);
        }
        long[][] confusion = new long[classes][classes];
        long correct = 0;
        for (int i = 0; i < predicted.length; i++) {
            confusion[truth[i]][predicted[i]]++;
            if (truth[i] == predicted[i]) {
                correct++;
            }
        }
        double f1Sum = 0;
        for (int c = 0; c < classes; c++) {
            long tp = confusion[c][c];
            long truePositivesAndMisses = 0;
            long predictedAsC = 0;
            for (int k = 0; k < classes; k++) {
                truePositivesAndMisses += confusion[c][k];
                predictedAsC += confusion[k][c];
            }
            double denominator = truePositivesAndMisses + predictedAsC;
            f1Sum += denominator == 0 ? 0 : 2.0 * tp / denominator;
        }
        return new ClassificationMetrics((double) correct / predicted.length, f1Sum / classes, confusion);
    }
}
