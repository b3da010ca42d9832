package org.peft4j.api.safetensors;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.internal.AtomicFiles;

/**
 * A pure-Java reader and writer of the safetensors format: an 8-byte little-endian header
 * length N, N bytes of JSON header (per tensor its {@code dtype}, {@code shape} and
 * {@code data_offsets} into the data buffer, plus an optional {@code __metadata__} map of
 * strings), then the data buffer of raw little-endian values.
 *
 * <p>Reading is as strict as the reference implementation (huggingface/safetensors; the rules
 * and the three places where peft4j is stricter are listed on {@code Header}): the header is at
 * most 100,000,000 bytes of UTF-8 JSON, one object whose tensors cover the data buffer exactly, in
 * order, without overlap or hole, each as long as its type and shape need. {@link SafeTensorsFile}
 * reads a file's header first and its tensors only on demand, so files larger than memory can be
 * inspected; {@link #read(Path)} reads every tensor into memory. Writing orders tensors by name,
 * pads the header with spaces to a multiple of 8 bytes, and replaces the target file atomically.
 */
public final class SafeTensors {
    /** The metadata key every checkpoint written for PyTorch carries: {@code "format": "pt"}. */
    public static final Map<String, String> PT_METADATA = Map.of("format", "pt");

    private static final String METADATA_KEY = "__metadata__";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;

    /**
     * Creates a checkpoint from tensors and metadata (both copied; tensors kept in name order).
     */
    public SafeTensors(Map<String, Tensor> tensors, Map<String, String> metadata) {
        for (String name : tensors.keySet()) {
            if (name.equals(METADATA_KEY)) {
                throw new IllegalArgumentException("\"" + METADATA_KEY + "\" is reserved and cannot name a tensor");
            }
        }
        this.tensors = Collections.unmodifiableMap(new TreeMap<>(tensors));
        this.metadata = Collections.unmodifiableMap(new TreeMap<>(metadata));
    }

    /** Returns the tensors by name, in name order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Returns the header's {@code __metadata__} map (empty if there was none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Reads and validates a safetensors file, every tensor into memory.
     *
     * @throws SafeTensorsFormatException if the file breaks the format; the message names the file
     * @throws IOException if the file cannot be read, or holds a tensor larger than 2 GiB
     */
    public static SafeTensors read(Path file) throws IOException {
        try (SafeTensorsFile open = SafeTensorsFile.open(file)) {
            return open.readAll();
        }
    }

    /**
     * Parses and validates the bytes of a safetensors file.
     *
     * @throws SafeTensorsFormatException if the bytes break the format
     */
    public static SafeTensors parse(byte[] bytes) {
        if (bytes.length < 8) {
            throw new SafeTensorsFormatException(
                    "truncated: " + bytes.length + " bytes, but the 8-byte header length alone needs 8");
        }
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (Long.compareUnsigned(n, Header.MAX_HEADER_BYTES) > 0) {
            throw new SafeTensorsFormatException(
                    "header length " + Long.toUnsignedString(n) + " exceeds the limit of " + Header.MAX_HEADER_BYTES + " bytes");
        }
        long available = bytes.length - 8L;
        if (n > available) {
            throw new SafeTensorsFormatException("header length " + n + " runs past the end of the file ("
                    + available + " bytes follow the length field)");
        }
        int dataStart = 8 + (int) n;
        Header header = Header.parse(bytes, 8, (int) n, bytes.length - (long) dataStart);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (TensorInfo info : header.tensors.values()) {
            byte[] data = Arrays.copyOfRange(bytes, dataStart + (int) info.begin(), dataStart + (int) info.end());
            tensors.put(info.name(), Tensor.wrap(info.dtype(), info.shape(), data));
        }
        return new SafeTensors(tensors, header.metadata);
    }

    /** Returns the bytes of this checkpoint in the safetensors format. */
    public byte[] toBytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            writeTo(out);
        } catch (IOException e) {
            throw new IllegalStateException("writing to memory failed", e);
        }
        return out.toByteArray();
    }

    /**
     * Writes this checkpoint in the safetensors format to {@code out}.
     *
     * @throws IllegalStateException if the header would exceed the 100,000,000 bytes readers accept
     */
    public void writeTo(OutputStream out) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject(METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            ObjectNode node = header.putObject(e.getKey());
            node.put("dtype", t.dtype().name());
            ArrayNode shape = node.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            node.putArray("data_offsets").add(offset).add(offset + t.byteSize());
            offset += t.byteSize();
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        if (padded > Header.MAX_HEADER_BYTES) {
            throw new IllegalStateException("the header would be " + padded + " bytes, more than the "
                    + Header.MAX_HEADER_BYTES + " safetensors readers accept");
        }
        ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
        out.write(length.array());
        out.write(json);
        for (int i = json.length; i < padded; i++) {
            out.write(' ');
        }
        for (Tensor t : tensors.values()) {
            t.writeTo(out);
        }
    }

    /** Writes this checkpoint to {@code file} atomically (a temporary file, then a rename). */
    public void write(Path file) throws IOException {
        AtomicFiles.write(file, this::writeTo);
    }
}
