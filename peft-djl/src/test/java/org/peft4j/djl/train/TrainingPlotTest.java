package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;

/** The chart holds the curves it was given, its update axis has whole-number ticks, the PNG decodes. */
class TrainingPlotTest {

    /** The x-axis tick labels XChart drew, read after painting (XChart keeps its axes package-private). */
    private static List<String> xTickLabels(XYChart chart) throws Exception {
        Method axisPair = Chart.class.getDeclaredMethod("getAxisPair");
        axisPair.setAccessible(true);
        Object pair = axisPair.invoke(chart);
        Object xAxis = pair.getClass().getMethod("getXAxis").invoke(pair);
        Object ticks = xAxis.getClass().getMethod("getAxisTickCalculator").invoke(xAxis);
        @SuppressWarnings("unchecked")
        List<String> labels = (List<String>) ticks.getClass().getMethod("getTickLabels").invoke(ticks);
        return labels;
    }

    private static List<TrainingPlot.Point> points(double... stepValuePairs) {
        List<TrainingPlot.Point> out = new ArrayList<>();
        for (int i = 0; i < stepValuePairs.length; i += 2) {
            out.add(new TrainingPlot.Point(stepValuePairs[i], stepValuePairs[i + 1]));
        }
        return out;
    }

    @Test
    void threeUpdatesGiveALineOnWholeNumberTicks(@TempDir Path dir) throws Exception {
        List<TrainingPlot.Point> updates = points(1, 0.9, 2, 0.6, 3, 0.5);
        XYChart chart = TrainingPlot.chart("three updates", updates, points(3, 2.0 / 3), List.of(), null, 3);

        XYSeries loss = chart.getSeriesMap().get(TrainingPlot.UPDATE_LOSS_SERIES);
        assertThat(loss.getXData()).containsExactly(1, 2, 3);
        assertThat(loss.getYData()).containsExactly(0.9, 0.6, 0.5);
        assertThat(loss.getXYSeriesRenderStyle()).isEqualTo(XYSeries.XYSeriesRenderStyle.Line);
        assertThat(chart.getSeriesMap()).containsOnlyKeys(TrainingPlot.UPDATE_LOSS_SERIES, TrainingPlot.MEAN_LOSS_SERIES);

        Path png = dir.resolve("training_loss.png");
        TrainingPlot.write(png, "three updates", updates, points(3, 2.0 / 3), List.of(), null, 3);
        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image).isNotNull();
        assertThat(image.getWidth()).isEqualTo(TrainingPlot.WIDTH);
        assertThat(image.getHeight()).isEqualTo(TrainingPlot.HEIGHT);

        // paint the same chart to read its ticks and where it puts the curve
        BufferedImage painted = BitmapEncoder.getBufferedImage(chart);
        // XChart also lays out ticks just beyond the axis, which it does not draw
        assertThat(xTickLabels(chart)).allMatch(label -> label.matches("-?\\d+")).doesNotHaveDuplicates()
                .contains("0", "1", "2", "3");
        // halfway between updates 1 and 2 there are no markers: a loss-coloured pixel there is the line
        int x = (int) Math.round(chart.getScreenXFromChart(1.5));
        int y = (int) Math.round(chart.getScreenYFromChart(0.75));
        assertThat(nearColour(painted, x, y, TrainingPlot.UPDATE_LOSS)).as("line pixel near (%d, %d)", x, y).isTrue();
        assertThat(nearColour(image, x, y, TrainingPlot.UPDATE_LOSS)).as("the PNG has the same line").isTrue();
    }

    @Test
    void aPlotDrawnMidRunKeepsWholeNumberTicksUpToTheLastUpdate() throws Exception {
        List<TrainingPlot.Point> updates = new ArrayList<>();
        for (int step = 1; step <= 8; step++) {
            updates.add(new TrainingPlot.Point(step, 1.0 / step));
        }
        XYChart chart = TrainingPlot.chart("after epoch 1 of 2", updates, points(5, 0.5, 8, 0.2), points(8, 0.75),
                "accuracy", 16);
        BitmapEncoder.getBufferedImage(chart);
        List<String> labels = xTickLabels(chart);
        assertThat(labels).allMatch(label -> label.matches("-?\\d+")).doesNotHaveDuplicates().contains("0", "16");
        assertThat(chart.getSeriesMap().get(TrainingPlot.metricSeries("accuracy")).getYAxisGroup()).isEqualTo(1);
    }

    /** Whether a pixel within two of (x, y) is within 24 per channel of {@code colour} (lines are anti-aliased). */
    private static boolean nearColour(BufferedImage image, int x, int y, Color colour) {
        for (int dx = -2; dx <= 2; dx++) {
            for (int dy = -2; dy <= 2; dy++) {
                Color c = new Color(image.getRGB(x + dx, y + dy));
                if (Math.abs(c.getRed() - colour.getRed()) <= 24 && Math.abs(c.getGreen() - colour.getGreen()) <= 24
                        && Math.abs(c.getBlue() - colour.getBlue()) <= 24) {
                    return true;
                }
            }
        }
        return false;
    }
}
