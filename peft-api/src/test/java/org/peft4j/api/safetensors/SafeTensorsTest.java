package org.peft4j.api.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The reader and writer against bytes laid out by hand from the safetensors specification: an
 * unsigned 64-bit little-endian header size N, N bytes of UTF-8 JSON, then the data buffer.
 */
class SafeTensorsTest {

    /** Little-endian bytes of a 64-bit value, written out without any library help. */
    private static byte[] u64(long v) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    private static byte[] f32(float... values) {
        byte[] b = new byte[values.length * 4];
        for (int i = 0; i < values.length; i++) {
            int bits = Float.floatToIntBits(values[i]);
            for (int k = 0; k < 4; k++) {
                b[4 * i + k] = (byte) (bits >>> (8 * k));
            }
        }
        return b;
    }

    private static byte[] le16(int... values) {
        byte[] b = new byte[values.length * 2];
        for (int i = 0; i < values.length; i++) {
            b[2 * i] = (byte) values[i];
            b[2 * i + 1] = (byte) (values[i] >>> 8);
        }
        return b;
    }

    private static byte[] file(String header, byte[]... data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] json = header.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(u64(json.length));
        out.writeBytes(json);
        for (byte[] d : data) {
            out.writeBytes(d);
        }
        return out.toByteArray();
    }

    @Test
    void readsAFileLaidOutByHandFromTheSpecification() {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                + "\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[32,38]},"
                + "\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[38,42]}}";
        byte[] ids = new byte[16];
        ids[0] = 101; // 101 as int64 little-endian
        ids[8] = (byte) 0xff; // -2 as int64: 0xfe ff ff ff ff ff ff ff
        Arrays.fill(ids, 9, 16, (byte) 0xff);
        ids[8] = (byte) 0xfe;
        // F16: 1.0 = 0x3c00, -2.0 = 0xc000, 0.5 = 0x3800; BF16: 1.0 = 0x3f80, 3.0 = 0x4040
        byte[] bytes = file(header, f32(1.5f, -2f, 0.25f, 8f), ids, le16(0x3c00, 0xc000, 0x3800), le16(0x3f80, 0x4040));

        SafeTensors st = SafeTensors.parse(bytes);
        assertThat(st.metadata()).containsExactly(Map.entry("format", "pt"));
        assertThat(st.tensors().get("w").shape()).containsExactly(2, 2);
        assertThat(st.tensors().get("w").toFloatArray()).containsExactly(1.5f, -2f, 0.25f, 8f);
        assertThat(st.tensors().get("ids").toLongArray()).containsExactly(101, -2);
        assertThat(st.tensors().get("h").toFloatArray()).containsExactly(1f, -2f, 0.5f);
        assertThat(st.tensors().get("bf").toFloatArray()).containsExactly(1f, 3f);
    }

    @Test
    void writesExactlyTheLayoutTheSpecificationGives() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("b", Tensor.ofFloats(new long[] {3}, new float[] {1, 2, 3}));
        tensors.put("a", Tensor.ofFloats(new long[] {1, 2}, new float[] {-1, 0.5f}));
        byte[] bytes = new SafeTensors(tensors, Map.of("format", "pt")).toBytes();

        long n = 0;
        for (int i = 0; i < 8; i++) {
            n |= (bytes[i] & 0xffL) << (8 * i);
        }
        String expectedJson = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]}}";
        assertThat(n % 8).as("header padded to 8 bytes").isZero();
        String json = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertThat(json.stripTrailing()).isEqualTo(expectedJson);
        assertThat(json.substring(expectedJson.length())).matches(" *");
        byte[] data = Arrays.copyOfRange(bytes, 8 + (int) n, bytes.length);
        ByteArrayOutputStream expectedData = new ByteArrayOutputStream();
        expectedData.writeBytes(f32(-1, 0.5f));
        expectedData.writeBytes(f32(1, 2, 3));
        assertThat(data).containsExactly(expectedData.toByteArray());
    }

    @Test
    void roundTripsThroughAFile(@TempDir Path dir) throws Exception {
        Map<String, Tensor> tensors = Map.of(
                "x", Tensor.ofFloats(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}),
                "y", Tensor.ofLongs(new long[] {2}, new long[] {7, Long.MIN_VALUE}),
                "z", Tensor.ofFloats(new long[] {2}, new float[] {0.1f, -3e5f}).convertTo(DType.BF16),
                "empty", Tensor.ofFloats(new long[] {0, 4}, new float[0]));
        Path file = dir.resolve("m.safetensors");
        new SafeTensors(tensors, Map.of()).write(file);
        SafeTensors back = SafeTensors.read(file);
        assertThat(back.tensors()).isEqualTo(tensors);
        assertThat(back.metadata()).isEmpty();
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(file);
        }
    }

    @Test
    void everyHalfPrecisionValueSurvivesTheRoundTripThroughFloat() {
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfFloats.halfToFloat((short) bits);
            if (Float.isNaN(f)) {
                assertThat(HalfFloats.halfToFloat(HalfFloats.floatToHalf(f))).isNaN();
                continue;
            }
            assertThat(HalfFloats.floatToHalf(f) & 0xffff).as("half bits %04x", bits).isEqualTo(bits);
            assertThat(HalfFloats.floatToBfloat16(HalfFloats.bfloat16ToFloat((short) bits)) & 0xffff).isEqualTo(bits);
        }
        // rounding to nearest even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10 and goes to 1
        assertThat(HalfFloats.halfToFloat(HalfFloats.floatToHalf(1 + 0x1p-11f))).isEqualTo(1f);
        assertThat(HalfFloats.halfToFloat(HalfFloats.floatToHalf(1 + 0x1.8p-11f))).isEqualTo(1 + 0x1p-10f);
        assertThat(HalfFloats.halfToFloat(HalfFloats.floatToHalf(70000f))).isInfinite();
        assertThat(HalfFloats.halfToFloat(HalfFloats.floatToHalf(0x1p-24f))).isEqualTo(0x1p-24f);
    }

    private static final String ONE_F32 = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";

    @Test
    void refusesTruncatedFiles() {
        assertThatThrownBy(() -> SafeTensors.parse(new byte[5]))
                .isInstanceOf(SafeTensorsFormatException.class).hasMessageContaining("truncated");
        byte[] whole = file(ONE_F32, f32(1));
        assertThatThrownBy(() -> SafeTensors.parse(Arrays.copyOf(whole, whole.length - 2)))
                .hasMessageContaining("out of range");
        assertThatThrownBy(() -> SafeTensors.parse(Arrays.copyOf(whole, 20)))
                .hasMessageContaining("runs past the end of the file");
    }

    @Test
    void refusesAHeaderLengthPastTheEndOfTheFile() {
        byte[] bytes = file(ONE_F32, f32(1));
        System.arraycopy(u64(1000), 0, bytes, 0, 8);
        assertThatThrownBy(() -> SafeTensors.parse(bytes))
                .hasMessageContaining("header length 1000 runs past the end of the file");
        // as the reference does, a length over the 100,000,000-byte limit is refused as such first
        System.arraycopy(u64(1L << 40), 0, bytes, 0, 8);
        assertThatThrownBy(() -> SafeTensors.parse(bytes))
                .hasMessageContaining("header length 1099511627776 exceeds the limit of 100000000 bytes");
        System.arraycopy(u64(-1L), 0, bytes, 0, 8);
        assertThatThrownBy(() -> SafeTensors.parse(bytes))
                .hasMessageContaining("header length 18446744073709551615 exceeds the limit");
    }

    @Test
    void refusesCorruptHeaders() {
        assertThatThrownBy(() -> SafeTensors.parse(file("{\"t\":{\"dtype\":\"F32\"", f32(1))))
                .hasMessageContaining("not valid JSON");
        assertThatThrownBy(() -> SafeTensors.parse(file("[1,2]  ")))
                .hasMessageContaining("must be a JSON object");
        String twice = "{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(twice, f32(1)))).hasMessageContaining("tensor \"t\" appears twice in the header");
        assertThatThrownBy(() -> SafeTensors.parse(file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", f32(1))))
                .hasMessageContaining("must hold non-negative integers, found the number \"-1\"");
    }

    @Test
    void refusesOverlappingOutOfRangeAndMisSizedOffsets() {
        String overlap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(overlap, f32(1, 2, 3))))
                .hasMessageContaining("tensor \"b\" at bytes [4, 12) overlaps the tensor before it, which ends at 8");
        String outOfRange = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(outOfRange, f32(1))))
                .hasMessageContaining("tensor \"a\": data_offsets [0, 8] are out of range; the data buffer has 4 bytes");
        String hole = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(hole, f32(1, 2))))
                .hasMessageContaining("hole: bytes [0, 4) belong to no tensor");
        String trailing = ONE_F32;
        assertThatThrownBy(() -> SafeTensors.parse(file(trailing, f32(1, 2))))
                .hasMessageContaining("the data buffer has 8 bytes but the tensors cover 4");
        String misSized = "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(misSized, f32(1, 2))))
                .hasMessageContaining("F32 [3] needs 12 bytes but data_offsets [0, 8] give 8");
        String backwards = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(backwards, f32(1))))
                .hasMessageContaining("data_offsets [4, 0] end before they begin");
    }

    @Test
    void refusesAnUnknownDtype() {
        String header = "{\"a\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        assertThatThrownBy(() -> SafeTensors.parse(file(header, f32(1))))
                .isInstanceOf(SafeTensorsFormatException.class)
                .hasMessageContaining("tensor \"a\": unknown dtype \"F17\"");
    }

    @Test
    void namesTheFileInErrors(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.safetensors");
        Files.write(file, new byte[] {1});
        assertThatThrownBy(() -> SafeTensors.read(file)).hasMessageStartingWith(file.toString());
    }
}
