package org.peft4j.api.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Headers that the reference implementation (huggingface/safetensors 0.8.0, whose Rust core
 * {@code safetensors/src/tensor.rs} does the reading) accepts or refuses, each checked against it
 * when this table was written: the reader must agree on every one, except the three deliberate
 * refusals listed on {@code Header}, marked "stricter" below.
 */
class SafeTensorsStrictnessTest {
    private static final String EMPTY_U8 = "\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]";
    private static final String ONE_U8 = "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]";

    private static byte[] file(byte[] header, int dataBytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < 8; i++) {
            out.write((int) ((long) header.length >>> (8 * i)));
        }
        out.writeBytes(header);
        out.writeBytes(new byte[dataBytes]);
        return out.toByteArray();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static Stream<Arguments> accepted() {
        return Stream.of(
                Arguments.of("an empty header", utf8("{}"), 0),
                Arguments.of("__metadata__: null", utf8("{\"__metadata__\":null,\"a\":{" + ONE_U8 + "}}"), 1),
                Arguments.of("whitespace before and after the object (commit 96305fc)", utf8(" \t\n{\"a\":{" + ONE_U8 + "}}\r\n  "), 1),
                Arguments.of("a 200,000-character name", utf8("{\"" + "n".repeat(200_000) + "\":{" + ONE_U8 + "}}"), 1),
                Arguments.of("an empty name", utf8("{\"\":{" + ONE_U8 + "}}"), 1),
                Arguments.of("two empty tensors at one offset", utf8("{\"a\":{" + EMPTY_U8 + "},\"b\":{" + EMPTY_U8 + "}}"), 0),
                Arguments.of("an empty tensor whose dimensions multiply to 2^63 before the zero",
                        utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,2147483648,0],\"data_offsets\":[0,0]}}"), 0),
                Arguments.of("a scalar", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}"), 1),
                Arguments.of("unknown fields in a tensor, nested 127 levels in all",
                        utf8("{\"a\":{" + EMPTY_U8 + ",\"x\":" + "[".repeat(125) + "]".repeat(125) + "}}"), 0),
                Arguments.of("a float that underflows to zero in an unknown field", utf8("{\"a\":{" + EMPTY_U8 + ",\"x\":1e-400}}"), 0),
                Arguments.of("an escaped surrogate pair", utf8("{\"a\\ud83d\\ude00\":{" + ONE_U8 + "}}"), 1),
                Arguments.of("\\u0000 in a metadata value", utf8("{\"__metadata__\":{\"k\":\"\\u0000\"}}"), 0),
                Arguments.of("C64", utf8("{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}"), 8),
                Arguments.of("two F4 values in one byte", utf8("{\"a\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}"), 1),
                Arguments.of("four F6 values in three bytes",
                        utf8("{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}"), 3));
    }

    @ParameterizedTest(name = "accepts {0}")
    @MethodSource("accepted")
    void acceptsWhatTheReferenceAccepts(String what, byte[] header, int dataBytes) {
        SafeTensors st = SafeTensors.parse(file(header, dataBytes));
        assertThat(st.tensors().values().stream().mapToLong(Tensor::byteSize).sum()).isEqualTo(dataBytes);
    }

    static Stream<Arguments> refused() {
        return Stream.of(
                Arguments.of("invalid UTF-8 (a lone continuation byte)",
                        concat(utf8("{\"a"), new byte[] {(byte) 0x80}, utf8("\":{" + ONE_U8 + "}}")), 1, "not valid UTF-8: an invalid sequence at byte 3"),
                Arguments.of("an overlong UTF-8 encoding",
                        concat(utf8("{\"a"), new byte[] {(byte) 0xc0, (byte) 0x80}, utf8("\":{" + ONE_U8 + "}}")), 1, "not valid UTF-8"),
                Arguments.of("a UTF-8-encoded surrogate",
                        concat(utf8("{\"a"), new byte[] {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, utf8("\":{" + ONE_U8 + "}}")), 1, "not valid UTF-8"),
                Arguments.of("a byte-order mark", concat(new byte[] {(byte) 0xef, (byte) 0xbb, (byte) 0xbf}, utf8("{}")), 0, "byte-order mark"),
                Arguments.of("an offset of 2^64", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}"), 1, "2^63 or more"),
                Arguments.of("an offset of 2^64 + 1 (wraps to 1 in 64 bits)",
                        utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551617]}}"), 1, "2^63 or more"),
                Arguments.of("a float offset", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]}}"), 1, "without fraction or exponent"),
                Arguments.of("an offset with an exponent", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1e0]}}"), 1, "without fraction or exponent"),
                Arguments.of("a negative offset", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[-1,-1]}}"), 0, "non-negative"),
                Arguments.of("a float dimension", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}"), 1, "without fraction or exponent"),
                Arguments.of("a dimension of -0", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]}}"), 0, "non-negative"),
                Arguments.of("three offsets", utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}"), 1, "exactly 2 integers"),
                Arguments.of("bytes after the object", utf8("{\"a\":{" + ONE_U8 + "}}x"), 1, "not valid JSON"),
                Arguments.of("a second object after the first", utf8("{\"a\":{" + ONE_U8 + "}} {}"), 1, "more than one JSON value"),
                Arguments.of("NUL padding", utf8("{\"a\":{" + ONE_U8 + "}}\0\0"), 1, "not valid JSON"),
                Arguments.of("a form feed after the object", utf8("{\"a\":{" + ONE_U8 + "}}\f"), 1, "not valid JSON"),
                Arguments.of("a trailing comma", utf8("{\"a\":{" + ONE_U8 + "},}"), 1, "not valid JSON"),
                Arguments.of("a comment", utf8("{\"a\":{" + ONE_U8 + "}}/**/"), 1, "not valid JSON"),
                Arguments.of("a lone surrogate escape in a name", utf8("{\"a\\ud800\":{" + ONE_U8 + "}}"), 1, "surrogate"),
                Arguments.of("a lone low surrogate escape in a name", utf8("{\"a\\udc00\":{" + ONE_U8 + "}}"), 1, "surrogate"),
                Arguments.of("a lone surrogate escape in a metadata value", utf8("{\"__metadata__\":{\"k\":\"\\ud800\"}}"), 0, "lone surrogate"),
                Arguments.of("a lone surrogate escape in an ignored field", utf8("{\"a\":{" + ONE_U8 + ",\"x\":\"\\udc00\"}}"), 1, "lone surrogate"),
                Arguments.of("a control character in a string", utf8("{\"a\":{" + ONE_U8 + ",\"x\":\"\u0001\"}}"), 1, "not valid JSON"),
                Arguments.of("nesting 128 levels deep", utf8("{\"a\":{" + EMPTY_U8 + ",\"x\":" + "[".repeat(126) + "]".repeat(126) + "}}"), 0, "not valid JSON"),
                Arguments.of("a number out of a double's range in an ignored field", utf8("{\"a\":{" + EMPTY_U8 + ",\"x\":1e400}}"), 0, "number out of range"),
                Arguments.of("a 400-digit integer in an ignored field", utf8("{\"a\":{" + EMPTY_U8 + ",\"x\":1" + "0".repeat(400) + "}}"), 0, "number out of range"),
                Arguments.of("metadata holding a number", utf8("{\"__metadata__\":{\"a\":1}}"), 0, "must be a string"),
                Arguments.of("metadata as an array", utf8("{\"__metadata__\":[]}"), 0, "must be null or an object"),
                Arguments.of("__metadata__ twice", utf8("{\"__metadata__\":{},\"__metadata__\":null}"), 0, "appears twice"),
                Arguments.of("a field twice in a tensor", utf8("{\"a\":{" + ONE_U8 + ",\"dtype\":\"U8\"}}"), 1, "\"dtype\" appears twice"),
                Arguments.of("a missing dtype", utf8("{\"a\":{\"shape\":[0],\"data_offsets\":[0,0]}}"), 0, "missing \"dtype\""),
                Arguments.of("a null tensor", utf8("{\"a\":null}"), 0, "expected an object"),
                Arguments.of("a lower-case dtype", utf8("{\"a\":{\"dtype\":\"u8\",\"shape\":[1],\"data_offsets\":[0,1]}}"), 1, "unknown dtype \"u8\""),
                Arguments.of("a dimension product that overflows 64 bits",
                        utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],\"data_offsets\":[0,0]}}"), 0, "overflows 64 bits"),
                Arguments.of("F4 values that end inside a byte", utf8("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}"), 1, "byte boundary"),
                Arguments.of("a tensor short of the file's end", utf8("{\"a\":{" + ONE_U8 + "}}"), 2, "the data buffer has 2 bytes but the tensors cover 1"),
                Arguments.of("a gap before an empty tensor", utf8("{\"a\":{" + ONE_U8 + "},\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[3,3]}}"), 1, "out of range"),
                Arguments.of("an array as the header", utf8("[]"), 0, "must be a JSON object"),
                Arguments.of("an empty header", new byte[0], 0, "must be a JSON object"),
                Arguments.of("stricter: a tensor name twice", utf8("{\"a\":{" + EMPTY_U8 + "},\"a\":{" + EMPTY_U8 + "}}"), 0, "appears twice"),
                Arguments.of("stricter: a metadata key twice", utf8("{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}"), 0, "appears twice"),
                Arguments.of("stricter: dtype in serde's map form", utf8("{\"a\":{\"dtype\":{\"U8\":null},\"shape\":[0],\"data_offsets\":[0,0]}}"), 0, "must be a string"),
                Arguments.of("stricter: a dimension of 2^63",
                        utf8("{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775808,0],\"data_offsets\":[0,0]}}"), 0, "2^63 or more"));
    }

    @ParameterizedTest(name = "refuses {0}")
    @MethodSource("refused")
    void refusesWhatTheFormatForbids(String what, byte[] header, int dataBytes, String message) {
        assertThatThrownBy(() -> SafeTensors.parse(file(header, dataBytes)))
                .isInstanceOf(SafeTensorsFormatException.class)
                .hasMessageContaining(message);
    }

    @ParameterizedTest(name = "error messages quote at most a short, escaped excerpt: {0}")
    @MethodSource("refused")
    void errorMessagesQuoteOnlyShortEscapedExcerpts(String what, byte[] header, int dataBytes, String message) {
        assertThatThrownBy(() -> SafeTensors.parse(file(header, dataBytes)))
                .satisfies(e -> assertThat(e.getMessage()).hasSizeLessThan(400).matches("[\\x20-\\x7e]*"));
    }
}
