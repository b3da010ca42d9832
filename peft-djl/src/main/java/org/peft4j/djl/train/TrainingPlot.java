package org.peft4j.djl.train;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.XYStyler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.peft4j.api.internal.AtomicFiles;

/**
 * Draws the training curve as a PNG with XChart, like LLaMA-Factory's {@code training_loss.png}:
 * the loss of every update (pale blue) and its means over each {@code logging_steps} window (blue),
 * both on the left axis from 0, and a dev metric after each evaluation, such as the accuracy (orange,
 * right axis from 0 to 1). The x-axis counts updates from 0 to the last, with whole-number ticks. Drawn off screen,
 * so it needs no display.
 */
public final class TrainingPlot {
    /** The image's width in pixels. */
    public static final int WIDTH = 800;
    /** The image's height in pixels. */
    public static final int HEIGHT = 480;
    /** The colour of the loss means. */
    public static final Color LOSS = new Color(31, 119, 180);
    /** The colour of the loss of each update: the loss colour, pale. */
    public static final Color UPDATE_LOSS = new Color(166, 199, 232);
    /** The dev metric's colour. */
    public static final Color METRIC = new Color(255, 127, 14);
    /** The name of the series of each update's loss. */
    static final String UPDATE_LOSS_SERIES = "training loss";
    /** The name of the series of the logged loss means. */
    static final String MEAN_LOSS_SERIES = "mean over logging_steps";
    /** Curves with fewer points than this also mark each point, so that a short run still shows. */
    private static final int MARKED_BELOW = 30;

    private TrainingPlot() {}

    /** A point of a curve: the update number and the value there. */
    public record Point(double step, double value) {}

    /**
     * Returns the chart: the loss of each update and its logged means on the left axis, the dev
     * metric on the right one; an empty curve is left out.
     *
     * @param metric the dev metric after each evaluation, between 0 and 1
     * @param metricName its name, such as {@code accuracy} (the series is "dev " and the name);
     *     null when there is no metric
     * @param totalSteps where the x-axis ends (the run's last update)
     * @throws IllegalArgumentException if there is no loss to draw
     */
    public static XYChart chart(String title, List<Point> updateLoss, List<Point> meanLoss, List<Point> metric,
            String metricName, int totalSteps) {
        if (updateLoss.isEmpty() && meanLoss.isEmpty()) {
            throw new IllegalArgumentException("no training loss to plot");
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT).title(title).xAxisTitle("update")
                .yAxisTitle("training loss").build();
        XYStyler styler = chart.getStyler();
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setPlotBackgroundColor(Color.WHITE);
        styler.setLegendPosition(Styler.LegendPosition.OutsideS);
        styler.setLegendLayout(Styler.LegendLayout.Horizontal);
        // Updates are counted, so ticks are whole numbers: XChart steps its ticks by 1, 2 or 5 times a
        // power of ten and retries with a larger step while two labels read the same, which a step
        // below 1 always causes under this pattern. The axis ends half an update after the last one,
        // so the last point is not drawn on the frame.
        styler.setXAxisDecimalPattern("0");
        styler.setXAxisMin(0.0);
        styler.setXAxisMax(Math.max(1, totalSteps) + 0.5);
        styler.setYAxisMin(0, 0.0);
        styler.setYAxisDecimalPattern("0.00");
        add(chart, UPDATE_LOSS_SERIES, updateLoss, UPDATE_LOSS, 0);
        add(chart, MEAN_LOSS_SERIES, meanLoss, LOSS, 0);
        if (!metric.isEmpty()) {
            chart.setYAxisGroupTitle(1, metricSeries(metricName));
            styler.setYAxisGroupPosition(1, Styler.YAxisPosition.Right);
            styler.setYAxisMin(1, 0.0);
            styler.setYAxisMax(1, 1.0);
            add(chart, metricSeries(metricName), metric, METRIC, 1);
        }
        return chart;
    }

    /** The name of a dev metric's series: "dev " and the metric's name. */
    static String metricSeries(String metricName) {
        return "dev " + metricName;
    }

    private static void add(XYChart chart, String name, List<Point> points, Color color, int yAxisGroup) {
        if (points.isEmpty()) {
            return;
        }
        double[] x = new double[points.size()];
        double[] y = new double[points.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = points.get(i).step();
            y[i] = points.get(i).value();
        }
        XYSeries series = chart.addSeries(name, x, y);
        series.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        series.setYAxisGroup(yAxisGroup);
        series.setLineColor(color);
        series.setMarkerColor(color);
        series.setMarker(points.size() < MARKED_BELOW ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    }

    /** Draws {@link #chart} and writes it to {@code file} as a PNG, atomically. */
    public static void write(Path file, String title, List<Point> updateLoss, List<Point> meanLoss,
            List<Point> metric, String metricName, int totalSteps) throws IOException {
        byte[] png = BitmapEncoder.getBitmapBytes(chart(title, updateLoss, meanLoss, metric, metricName, totalSteps),
                BitmapEncoder.BitmapFormat.PNG);
        AtomicFiles.write(file, out -> out.write(png));
    }
}
