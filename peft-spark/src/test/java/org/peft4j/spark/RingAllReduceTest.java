package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * The ring all-reduce among workers that are threads of this JVM: sums equal the sums written out
 * (in double precision, to float rounding), every worker ends with the same bits, lengths that do
 * not divide by the workers work, and a worker that stops answering fails the others within the
 * timeout.
 */
class RingAllReduceTest {
    private interface Worker {
        float[] run(RingAllReduce ring) throws Exception;
    }

    private static List<Future<float[]>> start(int workers, Duration timeout, Worker body) throws IOException {
        List<ServerSocket> servers = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < workers; r++) {
            ServerSocket server = new ServerSocket(0, 4, InetAddress.getLoopbackAddress());
            servers.add(server);
            addresses.add(InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getLocalPort());
        }
        ExecutorService pool = Executors.newFixedThreadPool(workers);
        List<Future<float[]>> results = new ArrayList<>();
        for (int r = 0; r < workers; r++) {
            int rank = r;
            results.add(pool.submit(() -> {
                try (ServerSocket server = servers.get(rank);
                        RingAllReduce ring = RingAllReduce.connect(rank, addresses, server, timeout)) {
                    return body.run(ring);
                }
            }));
        }
        pool.shutdown();
        return results;
    }

    @Test
    void everyWorkerGetsTheSameSums() throws Exception {
        for (int workers : new int[] {1, 2, 3}) {
            int length = 1001;
            float[][] inputs = new float[workers][length];
            Random random = new Random(workers);
            for (float[] input : inputs) {
                for (int i = 0; i < length; i++) {
                    input[i] = (float) random.nextGaussian();
                }
            }
            List<Future<float[]>> results = start(workers, Duration.ofSeconds(20), ring -> {
                float[] data = inputs[ring.rank()].clone();
                ring.sumInPlace(data);
                float[] twice = data.clone();
                ring.sumInPlace(twice); // a second round on the same connections
                for (int i = 0; i < length; i++) {
                    assertThat(twice[i]).isCloseTo(workers * data[i], org.assertj.core.data.Offset.offset(1e-4f));
                }
                return data;
            });
            float[] first = results.get(0).get();
            for (int i = 0; i < length; i++) {
                double sum = 0;
                for (float[] input : inputs) {
                    sum += input[i];
                }
                assertThat((double) first[i]).as("element %d of %d workers", i, workers)
                        .isCloseTo(sum, org.assertj.core.data.Offset.offset(1e-5));
            }
            for (Future<float[]> other : results) {
                assertThat(other.get()).containsExactly(first);
            }
        }
    }

    @Test
    void aPeerThatStopsAnsweringFailsTheOthersWithinTheTimeout() throws Exception {
        List<Future<float[]>> results = start(3, Duration.ofMillis(800), ring -> {
            if (ring.rank() == 1) {
                Thread.sleep(6000); // does not join the round in time
                return new float[0];
            }
            float[] data = new float[10];
            ring.sumInPlace(data);
            return data;
        });
        long start = System.nanoTime();
        assertThatThrownBy(() -> results.get(2).get()).hasCauseInstanceOf(IOException.class)
                .hasMessageContaining("worker 2 got nothing from").hasMessageContaining("a peer stopped answering");
        // failed by the 0.8 s timeout, well before the silent peer wakes
        assertThat((System.nanoTime() - start) / 1e9).isLessThan(5.0);
    }
}
