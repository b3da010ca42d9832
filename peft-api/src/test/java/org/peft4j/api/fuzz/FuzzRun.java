package org.peft4j.api.fuzz;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs fuzz cases one at a time under a watchdog and counts their outcomes: accepted, refused with
 * the expected error type, or bad (anything else: another exception, a hang past the bound, an
 * oracle's disagreement). {@code -Dfuzz.cases=N} sets the number of cases (default: each fuzzer's
 * own), {@code -Dfuzz.seed=S} the seed.
 */
final class FuzzRun implements AutoCloseable {
    /** A case running longer than this counts as a hang. */
    static final long BOUND_SECONDS = 10;

    private final String name;
    private ExecutorService worker = newWorker();
    int tried;
    int accepted;
    int cleanErrors;
    int badCount;
    /** The first bad outcomes, described. */
    final List<String> bad = new ArrayList<>();

    FuzzRun(String name) {
        this.name = name;
    }

    static int cases(int defaultCases) {
        return Integer.getInteger("fuzz.cases", defaultCases);
    }

    static long seed() {
        return Long.getLong("fuzz.seed", 16);
    }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz case");
            t.setDaemon(true);
            return t;
        });
    }

    /** Runs {@code body} within the bound; returns its result, or the exception it threw. */
    Object run(int caseNumber, Callable<Object> body) {
        tried++;
        Future<Object> f = worker.submit(body);
        try {
            return f.get(BOUND_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            worker.shutdownNow();
            worker = newWorker(); // the hung thread is abandoned
            bad("case " + caseNumber + ": still running after " + BOUND_SECONDS + " s");
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    void bad(String what) {
        if (bad.size() < 20) {
            bad.add(what.length() > 300 ? what.substring(0, 300) + "..." : what);
        } else if (bad.size() == 20) {
            bad.add("...");
        }
        badCount++;
    }

    /** Checks an error message: short, printable ASCII only (file content only as escaped excerpts). */
    boolean messageIsClean(Throwable e) {
        String m = e.getMessage();
        return m != null && m.length() <= 600 && m.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
    }

    String summary() {
        return String.format("%s: %d tried, %d accepted, %d clean errors, %d bad outcomes", name, tried, accepted,
                cleanErrors, badCount);
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
