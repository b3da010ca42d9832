package org.peft4j.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.djl.train.Checkpointing;
import org.peft4j.djl.train.TrainingState;

/**
 * The checkpoints of one barrier stage's replicas, on storage every executor reaches (HDFS, S3, a
 * shared or, in local mode, a local directory; any Hadoop file system): after every
 * {@code save_steps}-th update each replica writes its {@link TrainingState} to
 * {@code update-<u>/replica-<rank>.safetensors} (a temporary file renamed into place), the replicas
 * wait for each other over the ring, and replica 0 marks the update complete with an empty
 * {@value #COMPLETE} file and deletes all but the last two complete updates. A retried stage's
 * replicas each find the last complete update, agree on the earliest of their findings (a task of
 * the failed attempt may still have been marking one) and resume from it.
 */
final class StageCheckpoints implements Checkpointing {
    /** The marker of an update whose replicas have all written their state. */
    static final String COMPLETE = "_COMPLETE";
    private static final String PREFIX = "update-";

    private final String directory;
    private final int rank;
    private final int saveSteps;
    private final GradientAveraging parallel;
    private final int resumeAfter;

    /**
     * A replica's checkpoints.
     *
     * @param resumeAfter the complete update the replicas agreed to resume from (0: start afresh)
     */
    StageCheckpoints(String directory, int rank, int saveSteps, GradientAveraging parallel, int resumeAfter) {
        this.directory = directory;
        this.rank = rank;
        this.saveSteps = saveSteps;
        this.parallel = parallel;
        this.resumeAfter = resumeAfter;
    }

    @Override
    public int saveSteps() {
        return saveSteps;
    }

    @Override
    public TrainingState latest() throws IOException {
        if (resumeAfter == 0) {
            return null;
        }
        Path file = stateFile(resumeAfter, rank);
        byte[] bytes;
        try (InputStream in = fileSystem(directory).open(file)) {
            bytes = in.readAllBytes();
        }
        TrainingState state = TrainingState.fromSafeTensors(SafeTensors.parse(bytes), file.toString());
        if (state.update() != resumeAfter) {
            throw new IllegalStateException(file + " holds the state after update " + state.update() + ", not "
                    + resumeAfter);
        }
        parallel.resume(state.losses());
        return state;
    }

    @Override
    public void save(TrainingState state) throws IOException {
        FileSystem fs = fileSystem(directory);
        Path target = stateFile(state.update(), rank);
        Path temporary = new Path(target.getParent(), "." + target.getName() + ".tmp");
        try (OutputStream out = fs.create(temporary, true)) {
            state.toSafeTensors().writeTo(out);
        }
        fs.delete(target, false);
        if (!fs.rename(temporary, target)) {
            throw new IOException("cannot rename " + temporary + " to " + target);
        }
        parallel.barrier(); // every replica has written its state
        if (rank == 0) {
            fs.create(new Path(updateDirectory(state.update()), COMPLETE), true).close();
            List<Integer> complete = completeUpdates(directory);
            for (int i = 0; i < complete.size() - 2; i++) {
                fs.delete(updateDirectory(complete.get(i)), true);
            }
        }
    }

    /** The last update of {@code directory} whose replicas all wrote their state; 0 if none. */
    static int latestComplete(String directory) throws IOException {
        List<Integer> complete = completeUpdates(directory);
        return complete.isEmpty() ? 0 : complete.get(complete.size() - 1);
    }

    /** The complete updates of {@code directory}, in increasing order. */
    private static List<Integer> completeUpdates(String directory) throws IOException {
        FileSystem fs = fileSystem(directory);
        Path root = new Path(directory);
        List<Integer> out = new ArrayList<>();
        if (!fs.exists(root)) {
            return out;
        }
        for (FileStatus status : fs.listStatus(root)) {
            String name = status.getPath().getName();
            if (status.isDirectory() && name.startsWith(PREFIX) && fs.exists(new Path(status.getPath(), COMPLETE))) {
                out.add(Integer.parseInt(name.substring(PREFIX.length())));
            }
        }
        out.sort(null);
        return out;
    }

    private Path updateDirectory(int update) {
        return new Path(directory, PREFIX + update);
    }

    private Path stateFile(int update, int replica) {
        return new Path(updateDirectory(update), "replica-" + replica + ".safetensors");
    }

    /** The Hadoop file system of {@code directory}, configured as the executor's Hadoop configuration says. */
    static FileSystem fileSystem(String directory) throws IOException {
        return new Path(directory).getFileSystem(new Configuration());
    }
}
