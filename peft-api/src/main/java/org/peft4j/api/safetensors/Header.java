package org.peft4j.api.safetensors;

import com.fasterxml.jackson.core.ErrorReportConfiguration;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.internal.Excerpt;

/**
 * The validated JSON header of a safetensors file, read as strictly as the reference
 * implementation reads it (huggingface/safetensors, safetensors/src/tensor.rs at commit 24b0b28:
 * {@code read_metadata}, lines 390-425, {@code HashMetadata} and {@code TensorInfo}, lines 540-546
 * and 799-808, {@code Metadata::validate}, lines 627-664), which parses it with serde_json:
 *
 * <ul>
 *   <li>the bytes must be UTF-8 ({@code core::str::from_utf8}, line 415); a byte-order mark is not
 *       JSON whitespace to serde_json and is refused; JSON whitespace (space, tab, CR, LF) may
 *       surround the object, which is how writers pad the header (commit 96305fc);
 *   <li>one JSON object and nothing after it; a {@code \\u} escape may not leave a lone surrogate;
 *       nesting deeper than serde_json's recursion limit (127 levels) is refused, and so is a
 *       number in an ignored field that overflows a double ("number out of range");
 *   <li>{@code __metadata__} is null or an object of strings ({@code Option<HashMap<String,
 *       String>>});
 *   <li>every other key is a tensor: an object with {@code dtype} (a name of {@link DType}),
 *       {@code shape} (unsigned integers) and {@code data_offsets} (exactly two unsigned integers);
 *       other fields in it are ignored, a repeated field is an error; integers written with a
 *       fraction or an exponent, negative ones and {@code -0} are refused (serde_json reads those
 *       as floats, which a {@code usize} refuses);
 *   <li>sorted by offsets, the tensors start at 0 and follow each other without gap or overlap, each
 *       exactly as long as its type and shape need, and the last ends where the file ends.
 * </ul>
 *
 * <p>Three things are refused here although the reference accepts them: a key repeated in the
 * header or in {@code __metadata__} (serde_json keeps the last silently; two readers could then
 * see different tensors), a {@code dtype} written as a map such as {@code {"F32": null}}
 * (serde's enum form), and integers of 2^63 or more (a Java {@code long} cannot hold them; the
 * reference accepts them only as a dimension of an empty tensor). Beyond the reference, the
 * header may describe at most {@value #MAX_TENSORS} tensors, so that a header of a million empty
 * tensors fails at once instead of filling the heap.
 */
final class Header {
    /** The reference implementation's {@code MAX_HEADER_SIZE} (tensor.rs, line 10). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The most tensors one header may describe. */
    static final int MAX_TENSORS = 1 << 18;
    /** serde_json's recursion limit of 128 leaves 127 levels of nesting. */
    static final int MAX_NESTING = 127;

    private static final String METADATA_KEY = "__metadata__";
    private static final JsonFactory JSON = JsonFactory.builder()
            // a million distinct names must not grow (or flood) a shared symbol table
            .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING)
                    .maxNameLength((int) MAX_HEADER_BYTES)
                    .maxStringLength((int) MAX_HEADER_BYTES)
                    .maxNumberLength((int) MAX_HEADER_BYTES)
                    .build())
            .errorReportConfiguration(ErrorReportConfiguration.builder()
                    .maxErrorTokenLength(Excerpt.MAX_CHARS)
                    .maxRawContentLength(0)
                    .build())
            .build();

    /** The tensors in data order. */
    final Map<String, TensorInfo> tensors;
    /** The {@code __metadata__} strings, in name order (empty when absent or null). */
    final Map<String, String> metadata;

    private Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /**
     * Parses and validates a header.
     *
     * @param bytes holds the header's bytes at {@code [offset, offset + length)}
     * @param dataLength the number of bytes after the header, which the tensors must cover exactly
     * @throws SafeTensorsFormatException if the header breaks a rule of the format
     */
    static Header parse(byte[] bytes, int offset, int length, long dataLength) {
        if (length >= 3 && (bytes[offset] & 0xff) == 0xef && (bytes[offset + 1] & 0xff) == 0xbb
                && (bytes[offset + 2] & 0xff) == 0xbf) {
            throw new SafeTensorsFormatException("the header starts with a UTF-8 byte-order mark, which is not JSON");
        }
        checkUtf8(bytes, offset, length);
        for (int i = 0; i < Math.min(length, 4); i++) {
            // JSON never holds a raw NUL; refusing it here also keeps the parser from guessing UTF-16 or UTF-32
            if (bytes[offset + i] == 0) {
                throw new SafeTensorsFormatException("the header is not valid JSON: a NUL byte at byte " + i);
            }
        }
        try (JsonParser p = JSON.createParser(bytes, offset, length)) {
            return read(p, dataLength);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new SafeTensorsFormatException("the header is not valid JSON"
                    + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")") + ": "
                    + Excerpt.quote(e.getOriginalMessage(), 3 * Excerpt.MAX_CHARS), e);
        } catch (IOException e) {
            throw new IllegalStateException("reading from memory failed", e);
        }
    }

    private static void checkUtf8(byte[] bytes, int offset, int length) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes, offset, length);
        CharBuffer out = CharBuffer.allocate(8192);
        while (true) {
            CoderResult r = decoder.decode(in, out, true);
            if (r.isError()) {
                throw new SafeTensorsFormatException(
                        "the header is not valid UTF-8: an invalid sequence at byte " + (in.position() - offset));
            }
            if (r.isUnderflow()) {
                return;
            }
            out.clear();
        }
    }

    private static Header read(JsonParser p, long dataLength) throws IOException {
        JsonToken first = p.nextToken();
        if (first != JsonToken.START_OBJECT) {
            throw new SafeTensorsFormatException("the header must be a JSON object, found " + describe(p));
        }
        Map<String, TensorInfo> byName = new HashMap<>();
        List<TensorInfo> entries = new ArrayList<>();
        Map<String, String> metadata = null;
        boolean sawMetadata = false;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            checkString(name, "a tensor name");
            p.nextToken();
            if (name.equals(METADATA_KEY)) {
                if (sawMetadata) {
                    throw new SafeTensorsFormatException("\"" + METADATA_KEY + "\" appears twice");
                }
                sawMetadata = true;
                metadata = readMetadata(p);
                continue;
            }
            if (byName.containsKey(name)) {
                throw new SafeTensorsFormatException("tensor " + Excerpt.quote(name) + " appears twice in the header");
            }
            if (entries.size() == MAX_TENSORS) {
                throw new SafeTensorsFormatException(
                        "the header describes more than " + MAX_TENSORS + " tensors, the most peft4j reads from one file");
            }
            TensorInfo info = readEntry(name, p, dataLength);
            byName.put(name, info);
            entries.add(info);
        }
        JsonToken after = p.nextToken();
        if (after != null) {
            throw new SafeTensorsFormatException("the header holds more than one JSON value: " + describe(p)
                    + " follows the object (only spaces may pad it)");
        }
        entries.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expectedBegin = 0;
        Map<String, TensorInfo> ordered = new LinkedHashMap<>();
        for (TensorInfo e : entries) {
            if (e.begin() < expectedBegin) {
                throw new SafeTensorsFormatException("tensor " + Excerpt.quote(e.name()) + " at bytes [" + e.begin()
                        + ", " + e.end() + ") overlaps the tensor before it, which ends at " + expectedBegin);
            }
            if (e.begin() > expectedBegin) {
                throw new SafeTensorsFormatException("the data buffer has a hole: bytes [" + expectedBegin + ", "
                        + e.begin() + ") belong to no tensor (next is " + Excerpt.quote(e.name()) + ")");
            }
            expectedBegin = e.end();
            ordered.put(e.name(), e);
        }
        if (expectedBegin != dataLength) {
            throw new SafeTensorsFormatException(
                    "the data buffer has " + dataLength + " bytes but the tensors cover " + expectedBegin);
        }
        return new Header(Collections.unmodifiableMap(ordered),
                metadata == null ? Map.of() : Collections.unmodifiableMap(metadata));
    }

    private static Map<String, String> readMetadata(JsonParser p) throws IOException {
        if (p.currentToken() == JsonToken.VALUE_NULL) {
            return null;
        }
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new SafeTensorsFormatException(
                    "\"" + METADATA_KEY + "\" must be null or an object of strings, found " + describe(p));
        }
        Map<String, String> metadata = new TreeMap<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String key = p.currentName();
            checkString(key, "a metadata key");
            if (p.nextToken() != JsonToken.VALUE_STRING) {
                throw new SafeTensorsFormatException(
                        "metadata value " + Excerpt.quote(key) + " must be a string, found " + describe(p));
            }
            String value = p.getText();
            checkString(value, "metadata value " + Excerpt.quote(key));
            if (metadata.put(key, value) != null) {
                throw new SafeTensorsFormatException("metadata key " + Excerpt.quote(key) + " appears twice");
            }
        }
        return metadata;
    }

    private static TensorInfo readEntry(String name, JsonParser p, long dataLength) throws IOException {
        String where = "tensor " + Excerpt.quote(name);
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw new SafeTensorsFormatException(
                    where + ": expected an object with dtype, shape and data_offsets, found " + describe(p));
        }
        DType dtype = null;
        long[] shape = null;
        long[] offsets = null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            checkString(field, where + ": a field name");
            p.nextToken();
            switch (field) {
                case "dtype":
                    requireFirst(dtype, where, field);
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        throw new SafeTensorsFormatException(where + ": \"dtype\" must be a string, found " + describe(p));
                    }
                    try {
                        dtype = DType.fromHeaderName(p.getText());
                    } catch (SafeTensorsFormatException e) {
                        throw new SafeTensorsFormatException(where + ": " + e.getMessage(), e);
                    }
                    break;
                case "shape":
                    requireFirst(shape, where, field);
                    shape = readUnsignedArray(p, where + ": \"shape\"", -1);
                    break;
                case "data_offsets":
                    requireFirst(offsets, where, field);
                    offsets = readUnsignedArray(p, where + ": \"data_offsets\"", 2);
                    break;
                default:
                    skipValue(p, where + ": field " + Excerpt.quote(field));
            }
        }
        if (dtype == null || shape == null || offsets == null) {
            throw new SafeTensorsFormatException(where + ": missing \""
                    + (dtype == null ? "dtype" : shape == null ? "shape" : "data_offsets") + "\"");
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (end < begin) {
            throw new SafeTensorsFormatException(where + ": data_offsets [" + begin + ", " + end + "] end before they begin");
        }
        if (end > dataLength) {
            throw new SafeTensorsFormatException(where + ": data_offsets [" + begin + ", " + end
                    + "] are out of range; the data buffer has " + dataLength + " bytes");
        }
        long needed;
        try {
            needed = Tensor.byteCount(dtype, shape);
        } catch (ArithmeticException e) {
            throw new SafeTensorsFormatException(where + ": " + e.getMessage(), e);
        }
        if (end - begin != needed) {
            throw new SafeTensorsFormatException(where + ": " + dtype + " " + Arrays.toString(shape) + " needs " + needed
                    + " bytes but data_offsets [" + begin + ", " + end + "] give " + (end - begin));
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static void requireFirst(Object seen, String where, String field) {
        if (seen != null) {
            throw new SafeTensorsFormatException(where + ": \"" + field + "\" appears twice");
        }
    }

    /** Reads an array of integers in [0, 2^63); {@code size} -1 allows any length. */
    private static long[] readUnsignedArray(JsonParser p, String what, int size) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw new SafeTensorsFormatException(what + " must be an array of integers, found " + describe(p));
        }
        long[] values = new long[Math.max(size, 4)];
        int n = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                throw new SafeTensorsFormatException(what + " must hold integers without fraction or exponent, found "
                        + describe(p));
            }
            String text = p.getText();
            if (text.startsWith("-")) {
                throw new SafeTensorsFormatException(what + " must hold non-negative integers, found " + describe(p));
            }
            if (text.length() > 19 || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                throw new SafeTensorsFormatException(what + ": " + describe(p) + " is 2^63 or more, too large");
            }
            if (size >= 0 && n == size) {
                throw new SafeTensorsFormatException(what + " must hold exactly " + size + " integers");
            }
            if (n == values.length) {
                values = Arrays.copyOf(values, n * 2);
            }
            values[n++] = p.getLongValue();
        }
        if (size >= 0 && n != size) {
            throw new SafeTensorsFormatException(what + " must hold exactly " + size + " integers, found " + n);
        }
        return Arrays.copyOf(values, n);
    }

    /** Walks an ignored value, refusing in it what serde_json refuses while buffering it. */
    private static void skipValue(JsonParser p, String where) throws IOException {
        int depth = 0;
        do {
            switch (p.currentToken()) {
                case START_OBJECT:
                case START_ARRAY:
                    depth++;
                    break;
                case END_OBJECT:
                case END_ARRAY:
                    depth--;
                    break;
                case FIELD_NAME:
                    checkString(p.currentName(), where);
                    break;
                case VALUE_STRING:
                    checkString(p.getText(), where);
                    break;
                case VALUE_NUMBER_INT:
                case VALUE_NUMBER_FLOAT:
                    if (Double.isInfinite(Double.parseDouble(p.getText()))) {
                        throw new SafeTensorsFormatException(where + ": number out of range");
                    }
                    break;
                default:
                    break;
            }
        } while (depth > 0 && p.nextToken() != null);
    }

    /** Refuses strings with a lone surrogate, which only a {@code \\u} escape can produce. */
    private static void checkString(String s, String what) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new SafeTensorsFormatException(
                        what + " holds a \\u escape that is a lone surrogate, not a character: " + Excerpt.quote(s));
            }
        }
    }

    /** Describes the current token for a message, quoting at most a short excerpt of it. */
    private static String describe(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        if (t == null) {
            return "nothing";
        }
        switch (t) {
            case START_OBJECT:
                return "an object";
            case START_ARRAY:
                return "an array";
            case VALUE_STRING:
                return "the string " + Excerpt.quote(p.getText());
            case VALUE_NUMBER_INT:
            case VALUE_NUMBER_FLOAT:
                return "the number " + Excerpt.quote(p.getText());
            default:
                return Excerpt.quote(p.getText());
        }
    }
}
