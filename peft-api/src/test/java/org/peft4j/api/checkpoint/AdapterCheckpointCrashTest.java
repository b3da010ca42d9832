package org.peft4j.api.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Saves in child JVMs killed with SIGKILL at random moments, and two child JVMs saving into one
 * directory while this one reads it: no load ever returns one save's config with another save's
 * weights, and no completed save is lost. {@code -Dcrash.kills=N} sets the number of kills
 * (default 200, in two directories side by side).
 */
class AdapterCheckpointCrashTest {
    @TempDir
    Path root;

    private static Process start(Path dir, long first, long step, long count) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // flags that start a small JVM fastest: most of each kill's time is the child's start
        return new ProcessBuilder(java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx64m", "-XX:-UsePerfData",
                "-XX:+UnlockDiagnosticVMOptions", "-XX:-BytecodeVerificationRemote",
                "-cp", System.getProperty("java.class.path"), SaveLoop.class.getName(),
                dir.toString(), Long.toString(first), Long.toString(step), Long.toString(count))
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }

    /** What one lane of kills saw. */
    private static final class Lane {
        int kills;
        int targetMissing;
        int readyLeft;
        int tmpLeft;
        int oldLeft;
        int newestUnprinted;
    }

    private static Lane killRepeatedly(Path dir, int kills, long seed, long base) throws Exception {
        Lane lane = new Lane();
        SaveLoop.adapter(base).save(dir);
        long lastPrinted = base;
        Random random = new Random(seed);
        for (int i = 0; i < kills; i++) {
            Process child = start(dir, base + 1000L * i + 1, 1, 0);
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII));
            String line = out.readLine(); // the first save is done: the child is saving in a loop now
            assertThat(line).as("child %d started saving", i).startsWith("saved ");
            lastPrinted = Long.parseLong(line.substring(6));
            LockSupport.parkNanos(random.nextInt(15_000_000));
            child.toHandle().destroyForcibly(); // SIGKILL; Process.destroyForcibly would also close its output
            child.waitFor();
            for (String rest = out.readLine(); rest != null; rest = out.readLine()) {
                if (rest.startsWith("saved ")) {
                    lastPrinted = Long.parseLong(rest.substring(6));
                }
            }
            List<String> siblings;
            try (Stream<Path> s = Files.list(dir.getParent())) {
                siblings = s.map(p -> p.getFileName().toString()).collect(Collectors.toList());
            }
            lane.targetMissing += siblings.contains("adapter") ? 0 : 1;
            lane.readyLeft += siblings.stream().anyMatch(n -> n.startsWith(".adapter.ready-")) ? 1 : 0;
            lane.tmpLeft += siblings.stream().anyMatch(n -> n.startsWith(".adapter.tmp-")) ? 1 : 0;
            lane.oldLeft += siblings.stream().anyMatch(n -> n.startsWith(".adapter.old-")) ? 1 : 0;

            long loaded = SaveLoop.numberOf(AdapterCheckpoint.load(dir)); // throws on a torn pair
            // the last save the child reported, or the one after it, finished but not yet reported
            assertThat(loaded).as("after kill %d", i).isBetween(lastPrinted, lastPrinted + 1);
            lane.newestUnprinted += loaded == lastPrinted + 1 ? 1 : 0;
            lane.kills++;
        }
        SaveLoop.adapter(base + 999_999).save(dir); // recovers whatever the last kill left
        try (Stream<Path> s = Files.list(dir.getParent())) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("adapter", ".adapter.lock");
        }
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(dir))).isEqualTo(base + 999_999);
        return lane;
    }

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void killingTheSavingProcessAtRandomMomentsNeverTearsAnAdapter() throws Exception {
        int kills = Integer.getInteger("crash.kills", 200);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<Lane>> lanes = new ArrayList<>();
            for (int l = 0; l < 2; l++) {
                Path dir = root.resolve("lane" + l).resolve("adapter");
                long seed = 1234 + l;
                long base = 4_000_000L * (l + 1);
                int share = kills / 2 + (l == 0 ? kills % 2 : 0);
                lanes.add(pool.submit(() -> killRepeatedly(dir, share, seed, base)));
            }
            int total = 0;
            for (Future<Lane> f : lanes) {
                Lane lane = f.get();
                total += lane.kills;
                System.out.printf("kill -9 lane: %d kills, 0 torn; left behind at the kill: adapter missing %d, "
                        + "ready %d, tmp %d, old %d; newest save finished but unreported %d%n", lane.kills,
                        lane.targetMissing, lane.readyLeft, lane.tmpLeft, lane.oldLeft, lane.newestUnprinted);
            }
            assertThat(total).isEqualTo(kills);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void twoWritersAndManyReadsNeverMixTwoSaves() throws Exception {
        Path dir = root.resolve("shared").resolve("adapter");
        SaveLoop.adapter(100_000).save(dir);
        Process odd = start(dir, 1, 2, 400);
        Process even = start(dir, 2, 2, 400);
        AtomicBoolean writing = new AtomicBoolean(true);
        AtomicLong reads = new AtomicLong();
        ExecutorService readers = Executors.newFixedThreadPool(2);
        List<Future<?>> done = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            done.add(readers.submit(() -> {
                while (writing.get()) {
                    SaveLoop.numberOf(AdapterCheckpoint.load(dir)); // throws on a torn pair
                    reads.incrementAndGet();
                }
                return null;
            }));
        }
        long[] oddCounts = count(odd);
        long[] evenCounts = count(even);
        writing.set(false);
        for (Future<?> f : done) {
            f.get();
        }
        readers.shutdown();
        System.out.printf("two writers: %d + %d saves, %d + %d refused by the lock; %d reads, 0 torn%n",
                oddCounts[0], evenCounts[0], oddCounts[1], evenCounts[1], reads.get());
        assertThat(oddCounts[0] + oddCounts[1]).isEqualTo(400);
        assertThat(evenCounts[0] + evenCounts[1]).isEqualTo(400);
        assertThat(oddCounts[0]).isPositive();
        assertThat(evenCounts[0]).isPositive();
        assertThat(oddCounts[1] + evenCounts[1]).as("the writers overlapped").isPositive();
        assertThat(reads.get()).isPositive();
        long last = SaveLoop.numberOf(AdapterCheckpoint.load(dir));
        assertThat(last).isPositive();
    }

    /** Reads a writer's output to its end: {saves, refusals}. */
    private static long[] count(Process writer) throws Exception {
        long[] counts = new long[2];
        try (BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(), StandardCharsets.US_ASCII))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                counts[line.startsWith("saved ") ? 0 : 1]++;
            }
        }
        assertThat(writer.waitFor()).isZero();
        return counts;
    }
}
