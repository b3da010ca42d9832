package org.peft4j.api.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files too large to read whole: the reader reads the header, then only what it is asked for. */
class SafeTensorsBoundsTest {
    private static final long GIB = 1L << 30;

    @TempDir
    Path dir;

    private static byte[] lengthField(long n) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array();
    }

    @Test
    void opensAThreeGibibyteFileAndReadsOneSmallTensorFromIt() throws Exception {
        long big = 3 * GIB;
        String header = "{\"big\":{\"dtype\":\"U8\",\"shape\":[" + big + "],\"data_offsets\":[0," + big + "]},"
                + "\"small\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" + big + "," + (big + 8) + "]}}";
        byte[] json = header.getBytes(StandardCharsets.US_ASCII);
        Path file = dir.resolve("big.safetensors");
        long dataStart = 8 + json.length;
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(lengthField(json.length));
            raf.write(json);
            raf.setLength(dataStart + big + 8); // sparse: the 3 GiB of zeros take no disk
            raf.seek(dataStart + big);
            raf.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.5f).putFloat(-2f).array());
        }
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            assertThat(st.tensors()).containsOnlyKeys("big", "small");
            assertThat(st.tensors().get("big").byteSize()).isEqualTo(big);
            assertThat(st.read("small").toFloatArray()).containsExactly(1.5f, -2f);
            // one tensor of 3 GiB cannot be one Java array: a clear error, not an OutOfMemoryError
            assertThatThrownBy(() -> st.read("big")).isInstanceOf(java.io.IOException.class)
                    .hasMessageContaining("tensor \"big\" holds 3221225472 bytes, more than one in-memory Tensor can hold");
        }
        assertThatThrownBy(() -> SafeTensors.read(file)).hasMessageContaining("more than one in-memory Tensor can hold");
    }

    @Test
    void aMillionEmptyTensorsFailAtTheTensorBound() throws Exception {
        Path file = dir.resolve("many.safetensors");
        StringBuilder header = new StringBuilder("{");
        for (int i = 0; i < 1_000_000; i++) {
            header.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }
        byte[] json = header.append('}').toString().getBytes(StandardCharsets.US_ASCII);
        assertThat(json.length).isGreaterThan(55_000_000);
        try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file))) {
            out.write(lengthField(json.length));
            out.write(json);
        }
        assertThatThrownBy(() -> SafeTensorsFile.open(file))
                .isInstanceOf(SafeTensorsFormatException.class)
                .hasMessage(file + ": the header describes more than 262144 tensors, the most peft4j reads from one file");
    }

    @Test
    void theLargestAllowedTensorCountStillReads() throws Exception {
        StringBuilder header = new StringBuilder("{");
        for (int i = 0; i < Header.MAX_TENSORS; i++) {
            header.append(i == 0 ? "" : ",").append("\"t").append(i).append("\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
        }
        byte[] json = header.append('}').toString().getBytes(StandardCharsets.US_ASCII);
        byte[] bytes = new byte[8 + json.length];
        System.arraycopy(lengthField(json.length), 0, bytes, 0, 8);
        System.arraycopy(json, 0, bytes, 8, json.length);
        assertThat(SafeTensors.parse(bytes).tensors()).hasSize(Header.MAX_TENSORS);
    }

    @Test
    void aHeaderLengthOverTheLimitIsRefusedBeforeAnythingIsRead() throws Exception {
        Path file = dir.resolve("huge-header.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(lengthField(Header.MAX_HEADER_BYTES + 1));
            raf.setLength(2 * Header.MAX_HEADER_BYTES); // sparse
        }
        assertThatThrownBy(() -> SafeTensorsFile.open(file))
                .hasMessage(file + ": header length 100000001 exceeds the limit of 100000000 bytes");
    }
}
