package org.peft4j.api.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.io.RefusedFileException;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.SafeTensorsFile;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.api.safetensors.Tensor;

/**
 * A saved adapter in Hugging Face PEFT's layout: a directory holding {@code adapter_config.json}
 * and {@code adapter_model.safetensors}, the files {@code save_pretrained} writes and
 * {@code PeftModel.from_pretrained} reads.
 *
 * @param config the adapter's settings
 * @param tensors the adapter's weights under PEFT's keys
 * @param metadata the weights file's {@code __metadata__} strings; always holds {@code "format": "pt"},
 *     which PyTorch readers expect
 */
public record AdapterCheckpoint(PeftConfig config, Map<String, Tensor> tensors, Map<String, String> metadata) {
    /** The config file's name. */
    public static final String CONFIG_FILE = "adapter_config.json";
    /** The weights file's name. */
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    /** The largest {@value #CONFIG_FILE} read; PEFT's are a few kilobytes. */
    public static final int MAX_CONFIG_BYTES = 16 << 20;

    /** Copies the tensors and the metadata, adding {@code "format": "pt"} to the metadata. */
    public AdapterCheckpoint {
        Objects.requireNonNull(config, "config");
        tensors = Map.copyOf(tensors);
        Map<String, String> withFormat = new TreeMap<>(metadata == null ? Map.of() : metadata);
        withFormat.putAll(SafeTensors.PT_METADATA);
        metadata = Collections.unmodifiableMap(withFormat);
    }

    /** A checkpoint whose weights file carries only {@code "format": "pt"} as metadata. */
    public AdapterCheckpoint(PeftConfig config, Map<String, Tensor> tensors) {
        this(config, tensors, SafeTensors.PT_METADATA);
    }

    /**
     * The weights file's bytes: what {@link #save} writes as {@value #WEIGHTS_FILE}.
     *
     * @throws IllegalArgumentException if a tensor holds NaN or an infinity: such an adapter is never written
     */
    public byte[] weightBytes() {
        requireFiniteToWrite();
        return new SafeTensors(tensors, metadata).toBytes();
    }

    /** The config file's text: what {@link #save} writes as {@value #CONFIG_FILE}. */
    public String configJson() {
        return AdapterConfigJson.toJson(config);
    }

    /**
     * Reads a checkpoint from the two files' contents, as {@link #weightBytes} and
     * {@link #configJson} give them (for adapters kept inside another format).
     *
     * @param source names where the contents came from, for error messages
     * @throws AdapterFormatException if either is malformed, or a tensor holds NaN or an infinity
     */
    public static AdapterCheckpoint parse(String configJson, byte[] weightBytes, String source) {
        PeftConfig config = AdapterConfigJson.parse(configJson, source + " (" + CONFIG_FILE + ")");
        SafeTensors st;
        try {
            st = SafeTensors.parse(weightBytes);
        } catch (SafeTensorsFormatException e) {
            throw new AdapterFormatException(source + " (" + WEIGHTS_FILE + "): " + e.getMessage(), e);
        }
        requireFiniteToLoad(st.tensors(), source + " (" + WEIGHTS_FILE + ")");
        return new AdapterCheckpoint(config, st.tensors(), st.metadata());
    }

    /**
     * Saves both files into {@code directory} (created if needed) as one unit, with
     * {@link AtomicDirectory}: they are written into a fresh sibling directory, flushed to disk,
     * and switched in by renames, so that a crash at any moment leaves the previous adapter or
     * this one, whole, and a reader never sees this config with the previous weights. Other entries
     * of the directory (a training log, a run record) are kept.
     *
     * @throws IllegalArgumentException if a tensor holds NaN or an infinity: nothing is written
     * @throws org.peft4j.api.io.ConcurrentWriteException if another writer is saving to the same directory
     */
    public void save(Path directory) throws IOException {
        byte[] weightBytes = weightBytes();
        byte[] configBytes = configJson().getBytes(StandardCharsets.UTF_8);
        Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
        files.put(WEIGHTS_FILE, out -> out.write(weightBytes));
        files.put(CONFIG_FILE, out -> out.write(configBytes));
        AtomicDirectory.write(directory, files);
    }

    /**
     * Reads a saved adapter directory: both files from the same save (see {@link #save}), the
     * config at most {@value #MAX_CONFIG_BYTES} bytes of UTF-8, the weights validated as
     * safetensors and every value finite.
     *
     * @throws AdapterFormatException if a file is missing, malformed, a symbolic link leading out
     *     of the directory, or holds NaN or an infinity; the message names the file
     * @throws IOException if a file cannot be read
     */
    public static AdapterCheckpoint load(Path directory) throws IOException {
        Path configFile = directory.resolve(CONFIG_FILE);
        Path weightsFile = directory.resolve(WEIGHTS_FILE);
        try {
            return AtomicDirectory.read(directory, snapshot -> {
                byte[] configBytes = snapshot.readAllBytes(CONFIG_FILE, MAX_CONFIG_BYTES);
                PeftConfig config = AdapterConfigJson.parse(configBytes, configFile.toString());
                SafeTensors st;
                try (SafeTensorsFile weights = SafeTensorsFile.open(snapshot.open(WEIGHTS_FILE), weightsFile.toString())) {
                    st = weights.readAll();
                }
                requireFiniteToLoad(st.tensors(), weightsFile.toString());
                return new AdapterCheckpoint(config, st.tensors(), st.metadata());
            });
        } catch (NoSuchFileException e) {
            Path missing = e.getFile() == null ? directory : directory.resolve(Path.of(e.getFile()).getFileName());
            throw new AdapterFormatException("not an adapter directory: "
                    + (Files.isDirectory(directory) ? missing : directory) + " does not exist (expected "
                    + CONFIG_FILE + " and " + WEIGHTS_FILE + " in " + directory + ")", e);
        } catch (RefusedFileException e) {
            throw new AdapterFormatException(e.getFile() + " " + e.getReason(), e);
        } catch (SafeTensorsFormatException e) {
            throw new AdapterFormatException(e.getMessage(), e);
        }
    }

    private void requireFiniteToWrite() {
        for (Map.Entry<String, Tensor> e : new TreeMap<>(tensors).entrySet()) {
            long at = e.getValue().firstNonFinite();
            if (at >= 0) {
                throw new IllegalArgumentException("refusing to save an adapter with non-finite weights: tensor "
                        + Excerpt.quote(e.getKey()) + " holds NaN or an infinity at element " + at
                        + " (training diverged?)");
            }
        }
    }

    private static void requireFiniteToLoad(Map<String, Tensor> tensors, String where) {
        for (Map.Entry<String, Tensor> e : new TreeMap<>(tensors).entrySet()) {
            long at = e.getValue().firstNonFinite();
            if (at >= 0) {
                throw new AdapterFormatException(where + ": tensor " + Excerpt.quote(e.getKey())
                        + " holds NaN or an infinity at element " + at + "; an adapter must hold finite numbers only");
            }
        }
    }
}
