package org.peft4j.djl.train;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * A one-line progress bar on a console stream, redrawn in place with a carriage return: a label,
 * the bar, the count done of the total, a detail such as the loss, and the time left at the pace
 * so far. Training draws one per epoch, evaluation and prediction one per pass. Closing the bar
 * ends its line, also when the work stops with an exception, so that a message printed after it
 * starts on a line of its own.
 *
 * <pre>
 * test [###############...............] 96/208, 0:00:04 left
 * </pre>
 */
public final class ProgressBar implements AutoCloseable {
    private static final int WIDTH = 30;

    private final PrintStream out;
    private final String label;
    private final int total;
    private final long start = System.nanoTime();
    private boolean lineOpen;

    /**
     * Starts a bar; nothing is drawn before the first {@link #update}.
     *
     * @param out where the bar goes, usually standard error
     * @param label what the bar counts, such as {@code test} or {@code epoch 1/2}
     * @param total the count at which the work is done
     */
    public ProgressBar(PrintStream out, String label, int total) {
        if (total < 0) {
            throw new IllegalArgumentException("a progress bar's total must be >= 0, got " + total);
        }
        this.out = out;
        this.label = label;
        this.total = total;
    }

    /**
     * Redraws the bar at {@code done} of the total, with {@code detail} (may be empty) after the count.
     */
    public void update(int done, String detail) {
        out.print('\r' + line(done, detail, (System.nanoTime() - start) / 1e9) + "   ");
        out.flush();
        lineOpen = true;
    }

    /** Ends the bar's line, if one was drawn. */
    @Override
    public void close() {
        if (lineOpen) {
            out.println();
            out.flush();
            lineOpen = false;
        }
    }

    /** The bar's text at {@code done} of the total after {@code elapsedSeconds}. */
    String line(int done, String detail, double elapsedSeconds) {
        int filled = total == 0 ? WIDTH : (int) ((long) WIDTH * Math.min(done, total) / total);
        double left = done == 0 ? 0 : elapsedSeconds / done * Math.max(0, total - done);
        return String.format(Locale.ROOT, "%s [%s%s] %d/%d%s, %s left", label, "#".repeat(filled),
                ".".repeat(WIDTH - filled), done, total, detail == null || detail.isEmpty() ? "" : " " + detail,
                TrainerLog.hms(Duration.ofMillis((long) (left * 1000))));
    }
}
