package org.peft4j.spark;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Spark's {@code local-cluster[workers,cores,memory]} mode from a plain class path: separate
 * executor JVMs on this machine, the closest a single machine comes to a cluster (the replicas talk
 * over TCP across processes). Spark's launcher wants an installation: {@code SPARK_HOME} (and
 * {@code SPARK_SCALA_VERSION=2.13}) in the environment, with a {@code jars} folder; this makes one
 * of links to the class path's jars. Give the executors the same class path with
 * {@code spark.executor.extraClassPath}.
 */
public final class LocalCluster {
    private LocalCluster() {}

    /**
     * Makes {@code sparkHome} (created if needed) a Spark installation for local-cluster mode: a
     * {@code jars} folder holding a link to each jar of {@code classPath}; links already there are
     * kept.
     *
     * @return {@code sparkHome}
     */
    public static Path linkJars(Path sparkHome, String classPath) throws IOException {
        Path jars = Files.createDirectories(sparkHome.resolve("jars"));
        for (String entry : classPath.split(File.pathSeparator)) {
            Path source = Path.of(entry);
            Path link = jars.resolve(source.getFileName());
            if (entry.endsWith(".jar") && !Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.createSymbolicLink(link, source.toAbsolutePath());
            }
        }
        return sparkHome;
    }
}
