package org.peft4j.djl.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.safetensors.SafeTensors;

/**
 * One process's checkpoints, as Hugging Face's {@code Trainer} lays them out: after every
 * {@code save_steps}-th update a directory {@code checkpoint-<update>} in the output directory with
 * {@value #STATE_FILE} (a {@link TrainingState}: weights, AdamW's moments, losses) and, for a run
 * that trains an adapter, the adapter in PEFT's layout ({@code adapter_config.json},
 * {@code adapter_model.safetensors}), so that a checkpoint also loads as an adapter. Each directory
 * is written as one unit ({@link AtomicDirectory}): a crash leaves it whole or absent. A run given
 * {@code resumeFrom} (Hugging Face's {@code resume_from_checkpoint}) continues from that directory.
 */
public final class CheckpointDirectories implements Checkpointing {
    /** The training state's file inside a checkpoint directory. */
    public static final String STATE_FILE = "training_state.safetensors";
    /** The prefix of a checkpoint directory's name, followed by its update. */
    public static final String PREFIX = "checkpoint-";

    private final Path outputDir;
    private final int saveSteps;
    private final Path resumeFrom;

    /**
     * Checkpoints in {@code outputDir} every {@code saveSteps} updates (0: none), resuming from
     * {@code resumeFrom} if it is not null.
     */
    public CheckpointDirectories(Path outputDir, int saveSteps, Path resumeFrom) {
        if (saveSteps < 0) {
            throw new IllegalArgumentException("save_steps must be >= 0 (0: no checkpoints), got " + saveSteps);
        }
        this.outputDir = outputDir;
        this.saveSteps = saveSteps;
        this.resumeFrom = resumeFrom;
    }

    @Override
    public int saveSteps() {
        return saveSteps;
    }

    /**
     * The state of {@code resumeFrom}, or null without one.
     *
     * @throws IllegalArgumentException if it holds no {@value #STATE_FILE}
     */
    @Override
    public TrainingState latest() throws IOException {
        if (resumeFrom == null) {
            return null;
        }
        Path file = resumeFrom.resolve(STATE_FILE);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(resumeFrom + " is not a checkpoint directory: it has no " + STATE_FILE
                    + " (a checkpoint-N directory that save_steps wrote)");
        }
        return TrainingState.fromSafeTensors(SafeTensors.read(file), file.toString());
    }

    @Override
    public void save(TrainingState state) throws IOException {
        Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
        SafeTensors tensors = state.toSafeTensors();
        files.put(STATE_FILE, tensors::writeTo);
        AdapterCheckpoint adapter = state.adapter();
        if (adapter != null) {
            byte[] weights = adapter.weightBytes();
            byte[] config = adapter.configJson().getBytes(StandardCharsets.UTF_8);
            files.put(AdapterCheckpoint.WEIGHTS_FILE, out -> out.write(weights));
            files.put(AdapterCheckpoint.CONFIG_FILE, out -> out.write(config));
        }
        AtomicDirectory.write(outputDir.resolve(PREFIX + state.update()), files);
    }
}
