package org.peft4j.spark;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.peft4j.api.safetensors.Tensor;

/**
 * The data-parallel run with separate executor JVMs ({@code local-cluster[2,1,2048]}: two workers,
 * one core each): the replicas talk across processes, and the adapter equals the one of two
 * replicas in one JVM ({@code local[2]}). Spark finds no install here: {@code SPARK_HOME} (set by
 * the pom) gets a {@code jars} folder of links to this JVM's class path, and the executors get the
 * same class path. An executor JVM that dies mid-training (halted after update 5) is replaced, and
 * the retried stage resumes from the last checkpoint and ends with the same adapter.
 */
class LocalClusterTest {
    @Test
    void replicasInSeparateJvmsTrainWhatReplicasInOneJvmTrain() throws Exception {
        String classPath = System.getProperty("java.class.path");
        LocalCluster.linkJars(Path.of(System.getenv("SPARK_HOME")), classPath);
        SparkPeftTest.dir = Files.createTempDirectory("peft4j-local-cluster");
        SparkPeftTest.start();
        SparkPeft.Result inOneJvm = SparkPeftTest.run().build().fit(SparkPeftTest.frame(SparkPeftTest.rows.subList(0, 64)));
        SparkPeftTest.stop();
        SparkPeftTest.spark = SparkSession.builder().master("local-cluster[2,1,2048]").appName("peft4j-local-cluster")
                .config("spark.ui.enabled", "false").config("spark.executor.extraClassPath", classPath)
                .config("spark.executor.extraJavaOptions", "-Dai.djl.offline=true").getOrCreate();
        try {
            SparkPeft.Result separate = SparkPeftTest.run().build().fit(SparkPeftTest.frame(SparkPeftTest.rows.subList(0, 64)));
            System.out.printf("local-cluster[2,1,2048]: %d bytes sent per update, all-reduce %.3f s, compute %.3f s"
                    + " over %d updates%n", separate.bytesSentPerUpdate(), separate.allReduceSeconds(),
                    separate.computeSeconds(), separate.losses().length);
            for (Map.Entry<String, Tensor> e : inOneJvm.adapter().tensors().entrySet()) {
                assertThat(separate.adapter().tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                        .containsExactly(e.getValue().toFloatArray());
            }
            assertThat(List.of(separate.losses().length)).containsExactly(inOneJvm.losses().length);

            // worker 1's executor JVM dies after update 5: Spark starts another, retries the stage, which
            // resumes from the checkpoint of update 4 and ends with the same adapter
            SparkPeft.Result afterCrash = SparkPeftTest.run().optSaveSteps(2)
                    .optCheckpointDir(SparkPeftTest.dir.resolve("checkpoints").toUri().toString())
                    .killExecutorAfterUpdate(5).build().fit(SparkPeftTest.frame(SparkPeftTest.rows.subList(0, 64)));
            System.out.printf("after an executor died: stage attempt %d resumed after update %d%n",
                    afterCrash.stageAttempt(), afterCrash.resumedAfterUpdate());
            assertThat(afterCrash.stageAttempt()).isPositive();
            assertThat(afterCrash.resumedAfterUpdate()).isEqualTo(4);
            assertThat(afterCrash.losses()).containsExactly(separate.losses());
            for (Map.Entry<String, Tensor> e : inOneJvm.adapter().tensors().entrySet()) {
                assertThat(afterCrash.adapter().tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                        .containsExactly(e.getValue().toFloatArray());
            }
        } finally {
            SparkPeftTest.stop();
        }
    }
}
