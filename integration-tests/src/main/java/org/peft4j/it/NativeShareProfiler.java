package org.peft4j.it;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * Measures how much of a piece of work the calling thread spends in Java rather than in native code
 * (for DJL's PyTorch engine: inside libtorch), with the JDK Flight Recorder's thread sampler. JFR
 * samples a thread that runs Java code as {@code jdk.ExecutionSample} and one inside a native
 * method as {@code jdk.NativeMethodSample}; the Java share is the first count over both. Garbage
 * collection pauses are summed separately. The top frames of the Java samples say where Java's
 * time goes.
 */
final class NativeShareProfiler {
    private static final Duration PERIOD = Duration.ofMillis(10);

    /** What the sampler saw of the calling thread. */
    record Profile(int javaSamples, int nativeSamples, double gcPauseMs, Map<String, Integer> topJavaFrames,
            Map<String, Integer> topNativeFrames) {
        double javaShare() {
            int all = javaSamples + nativeSamples;
            return all == 0 ? Double.NaN : (double) javaSamples / all;
        }
    }

    private NativeShareProfiler() {}

    /** Runs {@code work} on this thread under the flight recorder and returns its result with the profile. */
    static <T> Map.Entry<T, Profile> profile(Supplier<T> work) {
        String thread = Thread.currentThread().getName();
        Path file = null;
        try (Recording recording = new Recording()) {
            recording.enable("jdk.ExecutionSample").withPeriod(PERIOD).withStackTrace();
            recording.enable("jdk.NativeMethodSample").withPeriod(PERIOD).withStackTrace();
            recording.enable("jdk.GarbageCollection");
            recording.start();
            T result = work.get();
            recording.stop();
            file = Files.createTempFile("peft4j-profile", ".jfr");
            recording.dump(file);
            return Map.entry(result, read(file, thread));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // a temporary file: the system cleans it up
                }
            }
        }
    }

    private static Profile read(Path file, String thread) throws IOException {
        int java = 0;
        int nativeSamples = 0;
        double gcMs = 0;
        Map<String, Integer> javaFrames = new TreeMap<>();
        Map<String, Integer> nativeFrames = new TreeMap<>();
        for (RecordedEvent event : RecordingFile.readAllEvents(file)) {
            String type = event.getEventType().getName();
            if (type.equals("jdk.GarbageCollection")) {
                gcMs += event.getDuration("sumOfPauses").toNanos() / 1e6;
                continue;
            }
            if (event.getThread("sampledThread") == null
                    || !thread.equals(event.getThread("sampledThread").getJavaName())) {
                continue;
            }
            String top = topFrame(event);
            if (type.equals("jdk.ExecutionSample")) {
                java++;
                javaFrames.merge(top, 1, Integer::sum);
            } else if (type.equals("jdk.NativeMethodSample")) {
                nativeSamples++;
                nativeFrames.merge(top, 1, Integer::sum);
            }
        }
        return new Profile(java, nativeSamples, gcMs, top(javaFrames, 8), top(nativeFrames, 8));
    }

    private static String topFrame(RecordedEvent event) {
        if (event.getStackTrace() == null || event.getStackTrace().getFrames().isEmpty()) {
            return "(no stack)";
        }
        RecordedFrame frame = event.getStackTrace().getFrames().get(0);
        String type = frame.getMethod().getType().getName();
        return type.substring(type.lastIndexOf('.') + 1) + "." + frame.getMethod().getName();
    }

    private static Map<String, Integer> top(Map<String, Integer> counts, int n) {
        List<Map.Entry<String, Integer>> sorted = counts.entrySet().stream()
                .sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(n).collect(Collectors.toList());
        Map<String, Integer> out = new LinkedHashMap<>();
        sorted.forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }
}
