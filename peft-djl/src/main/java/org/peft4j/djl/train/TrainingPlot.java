package org.peft4j.djl.train;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.peft4j.api.AtomicFiles;

/**
 * Draws the training curve as a PNG, like LLaMA-Factory's {@code training_loss.png}: the training
 * loss against the update (blue, left axis from 0 to the largest loss) and the dev accuracy after
 * each evaluation (orange dots joined, right axis from 0 to 1). Drawn with Java's own imaging, so
 * it needs no display.
 */
public final class TrainingPlot {
    /** The image's width in pixels. */
    public static final int WIDTH = 800;
    /** The image's height in pixels. */
    public static final int HEIGHT = 480;
    /** The plot area's margins: left, right, top, bottom. */
    static final int LEFT = 70;
    static final int RIGHT = 70;
    static final int TOP = 40;
    static final int BOTTOM = 50;
    /** The training loss colour. */
    public static final Color LOSS = new Color(31, 119, 180);
    /** The dev accuracy colour. */
    public static final Color ACCURACY = new Color(255, 127, 14);

    private TrainingPlot() {}

    /** A point of a curve: the update number and the value there. */
    public record Point(double step, double value) {}

    /** Returns the pixel x of update {@code step} when the axis ends at {@code lastStep}. */
    static int x(double step, double lastStep) {
        return LEFT + (int) Math.round(step / lastStep * (WIDTH - LEFT - RIGHT));
    }

    /** Returns the pixel y of {@code value} on an axis from 0 to {@code top}. */
    static int y(double value, double top) {
        return HEIGHT - BOTTOM - (int) Math.round(value / top * (HEIGHT - TOP - BOTTOM));
    }

    /** Writes the plot to {@code file} atomically. */
    public static void write(Path file, String title, List<Point> loss, List<Point> accuracy, int totalSteps)
            throws IOException {
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, WIDTH, HEIGHT);
            double lossTop = 0;
            for (Point p : loss) {
                lossTop = Math.max(lossTop, p.value());
            }
            lossTop = lossTop > 0 ? lossTop * 1.05 : 1;
            double last = Math.max(1, totalSteps);
            drawAxes(g, title, lossTop, last);
            g.setStroke(new BasicStroke(2f));
            g.setColor(LOSS);
            for (int i = 1; i < loss.size(); i++) {
                g.drawLine(x(loss.get(i - 1).step(), last), y(loss.get(i - 1).value(), lossTop),
                        x(loss.get(i).step(), last), y(loss.get(i).value(), lossTop));
            }
            g.setColor(ACCURACY);
            for (int i = 0; i < accuracy.size(); i++) {
                int px = x(accuracy.get(i).step(), last);
                int py = y(accuracy.get(i).value(), 1);
                g.fillOval(px - 4, py - 4, 9, 9);
                if (i > 0) {
                    g.drawLine(x(accuracy.get(i - 1).step(), last), y(accuracy.get(i - 1).value(), 1), px, py);
                }
            }
        } finally {
            g.dispose();
        }
        AtomicFiles.write(file, out -> ImageIO.write(image, "png", out));
    }

    private static void drawAxes(Graphics2D g, String title, double lossTop, double lastStep) {
        int bottom = HEIGHT - BOTTOM;
        int right = WIDTH - RIGHT;
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        for (int i = 0; i <= 5; i++) {
            int py = y(i / 5.0, 1);
            g.setColor(new Color(230, 230, 230));
            g.drawLine(LEFT, py, right, py);
            g.setColor(LOSS);
            g.drawString(String.format(Locale.ROOT, "%.2f", lossTop * i / 5), 10, py + 4);
            g.setColor(ACCURACY);
            g.drawString(String.format(Locale.ROOT, "%.1f", i / 5.0), right + 10, py + 4);
            int px = x(lastStep * i / 5, lastStep);
            g.setColor(Color.DARK_GRAY);
            g.drawString(Long.toString(Math.round(lastStep * i / 5)), px - 10, bottom + 18);
        }
        g.setColor(Color.BLACK);
        g.drawRect(LEFT, TOP, right - LEFT, bottom - TOP);
        g.drawString(title, LEFT, TOP - 15);
        g.drawString("update", (LEFT + right) / 2 - 20, HEIGHT - 12);
        g.setColor(LOSS);
        g.drawString("training loss", LEFT + 10, TOP + 18);
        g.setColor(ACCURACY);
        g.drawString("dev accuracy", right - 90, TOP + 18);
    }
}
