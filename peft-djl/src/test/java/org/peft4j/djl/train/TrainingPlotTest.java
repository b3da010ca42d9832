package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainingPlotTest {
    @Test
    void drawsTheCurvesWhereTheAxesPutThem(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("training_loss.png");
        List<TrainingPlot.Point> loss = List.of(new TrainingPlot.Point(10, 0.8), new TrainingPlot.Point(50, 0.4),
                new TrainingPlot.Point(100, 0.2));
        List<TrainingPlot.Point> accuracy = List.of(new TrainingPlot.Point(50, 0.9), new TrainingPlot.Point(100, 0.95));
        TrainingPlot.write(png, "LoRA on spam", loss, accuracy, 100);

        BufferedImage image = ImageIO.read(png.toFile());
        assertThat(image.getWidth()).isEqualTo(800);
        assertThat(image.getHeight()).isEqualTo(480);
        // the axes, written out: the plot area is x in [70, 730] for updates 0..100 and y in [40, 430];
        // the loss axis tops at 0.8 * 1.05, the accuracy axis at 1
        int lossX = 70 + (int) Math.round(50 / 100.0 * 660);
        int lossY = 430 - (int) Math.round(0.4 / 0.84 * 390);
        assertThat(new Color(image.getRGB(lossX, lossY))).isEqualTo(TrainingPlot.LOSS);
        int accX = 70 + 660;
        int accY = 430 - (int) Math.round(0.95 * 390);
        assertThat(new Color(image.getRGB(accX, accY))).isEqualTo(TrainingPlot.ACCURACY);
        assertThat(new Color(image.getRGB(400, 300))).isNotEqualTo(TrainingPlot.LOSS);
    }
}
