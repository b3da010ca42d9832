package org.peft4j.api.checkpoint;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;
import java.util.Objects;
import org.peft4j.api.AtomicFiles;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.safetensors.SafeTensors;
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

    /** The weights file's bytes: what {@link #save} writes as {@value #WEIGHTS_FILE}. */
    public byte[] weightBytes() {
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
     * @throws AdapterFormatException if either is malformed
     */
    public static AdapterCheckpoint parse(String configJson, byte[] weightBytes, String source) {
        PeftConfig config = AdapterConfigJson.parse(configJson, source + " (" + CONFIG_FILE + ")");
        SafeTensors st;
        try {
            st = SafeTensors.parse(weightBytes);
        } catch (SafeTensorsFormatException e) {
            throw new AdapterFormatException(source + " (" + WEIGHTS_FILE + "): " + e.getMessage(), e);
        }
        return new AdapterCheckpoint(config, st.tensors(), st.metadata());
    }

    /**
     * Writes both files into {@code directory} (created if needed). Each file is first written in
     * full to a temporary file in the directory and only then renamed into place, so an
     * interrupted save never leaves a truncated file under either name.
     */
    public void save(Path directory) throws IOException {
        Files.createDirectories(directory);
        Path weights = directory.resolve(WEIGHTS_FILE);
        Path configFile = directory.resolve(CONFIG_FILE);
        byte[] weightBytes = weightBytes();
        byte[] configBytes = configJson().getBytes(StandardCharsets.UTF_8);
        Path weightsTmp = AtomicFiles.writeTemporary(weights, out -> out.write(weightBytes));
        Path configTmp;
        try {
            configTmp = AtomicFiles.writeTemporary(configFile, out -> out.write(configBytes));
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(weightsTmp);
            throw e;
        }
        try {
            AtomicFiles.commit(weightsTmp, weights);
            AtomicFiles.commit(configTmp, configFile);
        } finally {
            Files.deleteIfExists(weightsTmp);
            Files.deleteIfExists(configTmp);
        }
    }

    /**
     * Reads a saved adapter directory.
     *
     * @throws AdapterFormatException if a file is missing or malformed; the message names it
     * @throws IOException if a file cannot be read
     */
    public static AdapterCheckpoint load(Path directory) throws IOException {
        Path configFile = directory.resolve(CONFIG_FILE);
        Path weights = directory.resolve(WEIGHTS_FILE);
        PeftConfig config;
        SafeTensors st;
        try {
            config = AdapterConfigJson.parse(Files.readString(configFile, StandardCharsets.UTF_8), configFile.toString());
            st = SafeTensors.read(weights);
        } catch (NoSuchFileException e) {
            throw new AdapterFormatException(
                    "not an adapter directory: " + e.getFile() + " does not exist (expected " + CONFIG_FILE
                            + " and " + WEIGHTS_FILE + " in " + directory + ")", e);
        } catch (SafeTensorsFormatException e) {
            throw new AdapterFormatException(e.getMessage(), e);
        }
        return new AdapterCheckpoint(config, st.tensors(), st.metadata());
    }
}
