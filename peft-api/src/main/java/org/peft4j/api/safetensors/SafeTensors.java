package org.peft4j.api.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.AtomicFiles;

/**
 * A pure-Java reader and writer of the safetensors format: an 8-byte little-endian header
 * length N, N bytes of JSON header (per tensor its {@code dtype}, {@code shape} and
 * {@code data_offsets} into the data buffer, plus an optional {@code __metadata__} map of
 * strings), then the data buffer of raw little-endian values.
 *
 * <p>Reading checks every rule of the format: the header length fits in the file, the header is a
 * JSON object without duplicate keys, every offset lies within the data buffer, the tensors cover
 * it exactly with no overlap and no hole, and each tensor's byte count matches its type and shape.
 * Writing orders tensors by name, pads the header with spaces to a multiple of 8 bytes, and
 * replaces the target file atomically.
 */
public final class SafeTensors {
    /** The metadata key every checkpoint written for PyTorch carries: {@code "format": "pt"}. */
    public static final Map<String, String> PT_METADATA = Map.of("format", "pt");

    /** Headers larger than this are refused, as the reference implementation does. */
    static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final String METADATA_KEY = "__metadata__";
    private static final ObjectMapper JSON =
            new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

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
     * Reads and validates a safetensors file.
     *
     * @throws SafeTensorsFormatException if the file breaks the format; the message names the file
     * @throws IOException if the file cannot be read
     */
    public static SafeTensors read(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        try {
            return parse(bytes);
        } catch (SafeTensorsFormatException e) {
            throw new SafeTensorsFormatException(file + ": " + e.getMessage(), e);
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
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        long available = bytes.length - 8L;
        if (headerLength < 0 || headerLength > available) {
            throw new SafeTensorsFormatException(
                    "header length " + Long.toUnsignedString(headerLength) + " runs past the end of the file ("
                            + available + " bytes follow the length field)");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw new SafeTensorsFormatException(
                    "header length " + headerLength + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
        }
        int dataStart = 8 + (int) headerLength;
        String headerText = new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8);
        JsonNode header;
        try {
            header = JSON.readTree(headerText);
        } catch (JsonProcessingException e) {
            throw new SafeTensorsFormatException("the header is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (header == null || !header.isObject()) {
            throw new SafeTensorsFormatException("the header must be a JSON object");
        }
        long dataLength = bytes.length - (long) dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA_KEY)) {
                readMetadata(field.getValue(), metadata);
            } else {
                entries.add(readEntry(field.getKey(), field.getValue(), dataLength));
            }
        }
        entries.sort(Comparator.comparingLong((Entry e) -> e.begin).thenComparingLong(e -> e.end));
        long expectedBegin = 0;
        for (Entry entry : entries) {
            if (entry.begin < expectedBegin) {
                throw new SafeTensorsFormatException(
                        "tensor \"" + entry.name + "\" at bytes [" + entry.begin + ", " + entry.end
                                + ") overlaps the tensor before it, which ends at " + expectedBegin);
            }
            if (entry.begin > expectedBegin) {
                throw new SafeTensorsFormatException(
                        "the data buffer has a hole: bytes [" + expectedBegin + ", " + entry.begin
                                + ") belong to no tensor (next is \"" + entry.name + "\")");
            }
            expectedBegin = entry.end;
        }
        if (expectedBegin != dataLength) {
            throw new SafeTensorsFormatException(
                    "the data buffer has " + dataLength + " bytes but the tensors cover only " + expectedBegin);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry entry : entries) {
            byte[] data = new byte[(int) (entry.end - entry.begin)];
            System.arraycopy(bytes, dataStart + (int) entry.begin, data, 0, data.length);
            tensors.put(entry.name, Tensor.of(entry.dtype, entry.shape, data));
        }
        return new SafeTensors(tensors, metadata);
    }

    private static void readMetadata(JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) {
            throw new SafeTensorsFormatException("\"" + METADATA_KEY + "\" must be an object of strings");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (!field.getValue().isTextual()) {
                throw new SafeTensorsFormatException(
                        "metadata value \"" + field.getKey() + "\" must be a string, found " + field.getValue());
            }
            metadata.put(field.getKey(), field.getValue().asText());
        }
    }

    private static Entry readEntry(String name, JsonNode node, long dataLength) {
        String where = "tensor \"" + name + "\"";
        if (!node.isObject()) {
            throw new SafeTensorsFormatException(where + ": expected an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        JsonNode shapeNode = node.get("shape");
        JsonNode offsetsNode = node.get("data_offsets");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw new SafeTensorsFormatException(where + ": missing or non-string \"dtype\"");
        }
        DType dtype;
        try {
            dtype = DType.fromHeaderName(dtypeNode.asText());
        } catch (SafeTensorsFormatException e) {
            throw new SafeTensorsFormatException(where + ": " + e.getMessage(), e);
        }
        if (shapeNode == null || !shapeNode.isArray()) {
            throw new SafeTensorsFormatException(where + ": missing or non-array \"shape\"");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToExactIntegral() || !d.canConvertToLong() || d.asLong() < 0) {
                throw new SafeTensorsFormatException(where + ": shape entry " + d + " is not a non-negative integer");
            }
            shape[i] = d.asLong();
        }
        if (offsetsNode == null || !offsetsNode.isArray() || offsetsNode.size() != 2) {
            throw new SafeTensorsFormatException(where + ": \"data_offsets\" must be [begin, end]");
        }
        long begin = offsetsNode.get(0).asLong(-1);
        long end = offsetsNode.get(1).asLong(-1);
        if (!offsetsNode.get(0).canConvertToExactIntegral() || !offsetsNode.get(1).canConvertToExactIntegral()
                || begin < 0 || end < begin) {
            throw new SafeTensorsFormatException(where + ": invalid data_offsets " + offsetsNode);
        }
        if (end > dataLength) {
            throw new SafeTensorsFormatException(
                    where + ": data_offsets " + offsetsNode + " are out of range; the data buffer has "
                            + dataLength + " bytes");
        }
        long expected;
        try {
            expected = Math.multiplyExact(Tensor.elementCount(shape), dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafeTensorsFormatException(where + ": shape is too large", e);
        }
        if (end - begin != expected) {
            throw new SafeTensorsFormatException(
                    where + ": " + dtype + " " + java.util.Arrays.toString(shape) + " needs " + expected
                            + " bytes but data_offsets " + offsetsNode + " give " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** Returns the bytes of this checkpoint in the safetensors format. */
    public byte[] toBytes() {
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
        byte[] json;
        try {
            json = JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise the header", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(8 + padded + offset)).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded);
        out.put(json);
        for (int i = json.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        for (Tensor t : tensors.values()) {
            out.put(t.bytes());
        }
        return out.array();
    }

    /** Writes this checkpoint to {@code file} atomically (a temporary file, then a rename). */
    public void write(Path file) throws IOException {
        byte[] bytes = toBytes();
        AtomicFiles.write(file, out -> out.write(bytes));
    }

    private static final class Entry {
        final String name;
        final DType dtype;
        final long[] shape;
        final long begin;
        final long end;

        Entry(String name, DType dtype, long[] shape, long begin, long end) {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape;
            this.begin = begin;
            this.end = end;
        }
    }
}
