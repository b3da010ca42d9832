package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Two replicas (threads) averaging over a ring: gradients become their mean on both, and weights
 * that differ fail both replicas with the update and the replicas named.
 */
class GradientAveragingTest {
    private static Parameter parameter(NDManager manager, float[] weights, float[] gradientScale) {
        NDArray array = manager.create(weights);
        Parameter p = Parameter.builder().setName("w").setType(Parameter.Type.WEIGHT).optArray(array).build();
        array.setRequiresGradient(true);
        try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            // d/dw sum(w * scale) = scale
            collector.backward(array.mul(manager.create(gradientScale)).sum());
        }
        return p;
    }

    private static List<Future<String>> replicas(List<List<Parameter>> params, boolean gradients) throws Exception {
        List<ServerSocket> servers = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            ServerSocket server = new ServerSocket(0, 2, InetAddress.getLoopbackAddress());
            servers.add(server);
            addresses.add(InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getLocalPort());
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        List<Future<String>> out = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            out.add(pool.submit(() -> {
                try (ServerSocket server = servers.get(rank);
                        RingAllReduce ring = RingAllReduce.connect(rank, addresses, server, Duration.ofSeconds(10))) {
                    GradientAveraging averaging = new GradientAveraging(ring, 1, 1, 0, false);
                    averaging.forwardBackward(() -> 0.5f + rank);
                    if (gradients) {
                        averaging.beforeStep(params.get(rank), 1);
                        return "ok";
                    }
                    averaging.afterStep(params.get(rank), 1);
                    return "identical";
                } catch (IllegalStateException e) {
                    return e.getMessage();
                }
            }));
        }
        pool.shutdown();
        return out;
    }

    @Test
    void gradientsBecomeTheirMeanOnEveryReplica() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter a = parameter(manager, new float[] {1, 2, 3}, new float[] {1, 4, -2});
            Parameter b = parameter(manager, new float[] {1, 2, 3}, new float[] {3, 0, 2});
            for (Future<String> f : replicas(List.of(List.of(a), List.of(b)), true)) {
                assertThat(f.get()).isEqualTo("ok");
            }
            assertThat(a.getArray().getGradient().toFloatArray()).containsExactly(2, 2, 0);
            assertThat(b.getArray().getGradient().toFloatArray()).containsExactly(2, 2, 0);
        }
    }

    @Test
    void replicasWhoseWeightsDifferFailNamingTheUpdate() throws Exception {
        try (NDManager manager = NDManager.newBaseManager()) {
            Parameter a = parameter(manager, new float[] {1, 2, 3}, new float[] {1, 1, 1});
            Parameter b = parameter(manager, new float[] {1, 2, 3.0001f}, new float[] {1, 1, 1});
            for (Future<String> f : replicas(List.of(List.of(a), List.of(b)), false)) {
                assertThat(f.get()).startsWith("replica 1 holds other adapter weights than replica 0 after update 1")
                        .endsWith("the replicas diverged, so no adapter is returned");
            }
            Parameter c = parameter(manager, new float[] {1, 2, 3}, new float[] {1, 1, 1});
            for (Future<String> f : replicas(List.of(List.of(a), List.of(c)), false)) {
                assertThat(f.get()).isEqualTo("identical");
            }
        }
    }
}
