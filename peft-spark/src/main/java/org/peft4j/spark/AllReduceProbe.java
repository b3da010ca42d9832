package org.peft4j.spark;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import scala.jdk.javaapi.CollectionConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Measures the ring all-reduce alone between the tasks of a barrier stage, as {@link SparkPeft}
 * runs it, for an array of any size: what one update's averaging costs on a cluster's network
 * before any training, for an adapter's gradients or, for comparison, a whole model's. Each task
 * joins the ring once, sums the array once to warm up, then times {@code rounds} sums.
 */
public final class AllReduceProbe {
    private AllReduceProbe() {}

    /**
     * What the probe measured, on worker 0.
     *
     * @param workers the tasks in the ring
     * @param floats the length of the summed array
     * @param bytesSentPerRound the bytes worker 0 sent per all-reduce (data and headers)
     * @param seconds the wall time of each timed all-reduce
     */
    public record Timing(int workers, int floats, long bytesSentPerRound, double[] seconds) {
        /** The median of {@link #seconds()}. */
        public double medianSeconds() {
            double[] sorted = seconds.clone();
            Arrays.sort(sorted);
            int n = sorted.length;
            return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        }
    }

    /**
     * Runs the probe in one barrier stage of {@code workers} tasks (the cluster must have as many
     * task slots free at once).
     *
     * @throws IllegalArgumentException if a count is below 1
     */
    public static Timing measure(SparkSession spark, int workers, int floats, int rounds, Duration timeout) {
        if (workers < 1 || floats < 1 || rounds < 1) {
            throw new IllegalArgumentException("workers, floats and rounds must be >= 1; got " + workers + ", " + floats
                    + ", " + rounds);
        }
        List<Integer> ranks = new ArrayList<>();
        for (int i = 0; i < workers; i++) {
            ranks.add(i);
        }
        List<double[]> reports = JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(ranks, workers)
                .rdd().barrier().mapPartitions(new Probe(workers, floats, rounds, timeout.toMillis()), false,
                        ClassTag$.MODULE$.apply(double[].class))
                .toJavaRDD().collect();
        double[] first = reports.stream().filter(r -> r[0] == 0).findFirst().orElseThrow();
        return new Timing(workers, floats, (long) first[1], Arrays.copyOfRange(first, 2, first.length));
    }

    /** One task of the probe: reports its rank, the bytes it sent per round, and each round's seconds. */
    private static final class Probe extends AbstractFunction1<scala.collection.Iterator<Integer>,
            scala.collection.Iterator<double[]>> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int workers;
        private final int floats;
        private final int rounds;
        private final long timeoutMillis;

        Probe(int workers, int floats, int rounds, long timeoutMillis) {
            this.workers = workers;
            this.floats = floats;
            this.rounds = rounds;
            this.timeoutMillis = timeoutMillis;
        }

        @Override
        public scala.collection.Iterator<double[]> apply(scala.collection.Iterator<Integer> ignored) {
            BarrierTaskContext context = BarrierTaskContext.get();
            int rank = context.partitionId();
            try (ServerSocket server = new ServerSocket(0, workers, InetAddress.getLocalHost())) {
                String[] addresses = context.allGather(InetAddress.getLocalHost().getHostAddress() + ":"
                        + server.getLocalPort());
                try (RingAllReduce ring = RingAllReduce.connect(rank, List.of(addresses), server,
                        Duration.ofMillis(timeoutMillis))) {
                    float[] data = new float[floats];
                    Arrays.fill(data, rank);
                    ring.sumInPlace(data); // warm-up: connections, buffers, the JIT
                    long before = ring.bytesSent();
                    double[] report = new double[2 + rounds];
                    report[0] = rank;
                    for (int r = 0; r < rounds; r++) {
                        long start = System.nanoTime();
                        ring.sumInPlace(data);
                        report[2 + r] = (System.nanoTime() - start) / 1e9;
                    }
                    report[1] = (double) (ring.bytesSent() - before) / rounds;
                    return CollectionConverters.asScala(List.of(report).iterator());
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }
}
