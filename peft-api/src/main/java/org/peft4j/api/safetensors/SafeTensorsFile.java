package org.peft4j.api.safetensors;

import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.peft4j.api.internal.Excerpt;

/**
 * An open safetensors file whose header has been read and validated, and whose tensors are read
 * one at a time, only when asked for, with positioned reads. Opening reads the 8-byte length and
 * the header and nothing else, so a file of any size opens in time and memory proportional to its
 * header; the header is at most 100,000,000 bytes, as in the reference implementation, and
 * describes at most 262,144 tensors. See {@link SafeTensors} for the rules a file must follow.
 */
public final class SafeTensorsFile implements Closeable {
    /** The largest tensor one {@link Tensor} can hold: the largest Java byte array. */
    static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE - 8;

    private final SeekableByteChannel channel;
    private final String source;
    private final long dataStart;
    private final Header header;

    private SafeTensorsFile(SeekableByteChannel channel, String source, long dataStart, Header header) {
        this.channel = channel;
        this.source = source;
        this.dataStart = dataStart;
        this.header = header;
    }

    /**
     * Opens a file and validates its header.
     *
     * @throws SafeTensorsFormatException if the header breaks the format; the message names the file
     * @throws IOException if the file cannot be read
     */
    public static SafeTensorsFile open(Path file) throws IOException {
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return open(channel, file.toString());
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Validates the header of the safetensors file {@code channel} reads; the returned file owns the
     * channel and closes it.
     *
     * @param source names the file in messages
     * @throws SafeTensorsFormatException if the header breaks the format; the message names the source
     * @throws IOException if the channel cannot be read
     */
    public static SafeTensorsFile open(SeekableByteChannel channel, String source) throws IOException {
        long size = channel.size();
        try {
            if (size < 8) {
                throw new SafeTensorsFormatException(
                        "truncated: " + size + " bytes, but the 8-byte header length alone needs 8");
            }
            ByteBuffer lengthField = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, 0, lengthField, source);
            long n = lengthField.getLong(0);
            // the order of the reference's read_metadata: too large first, then past the end
            if (Long.compareUnsigned(n, Header.MAX_HEADER_BYTES) > 0) {
                throw new SafeTensorsFormatException("header length " + Long.toUnsignedString(n)
                        + " exceeds the limit of " + Header.MAX_HEADER_BYTES + " bytes");
            }
            if (n > size - 8) {
                throw new SafeTensorsFormatException("header length " + n + " runs past the end of the file ("
                        + (size - 8) + " bytes follow the length field)");
            }
            ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
            readFully(channel, 8, headerBytes, source);
            Header header = Header.parse(headerBytes.array(), 0, (int) n, size - 8 - n);
            return new SafeTensorsFile(channel, source, 8 + n, header);
        } catch (SafeTensorsFormatException e) {
            throw new SafeTensorsFormatException(source + ": " + e.getMessage(), e);
        }
    }

    /** Returns the name of the file in messages. */
    public String source() {
        return source;
    }

    /** Returns the header's {@code __metadata__} strings (empty when there are none). */
    public Map<String, String> metadata() {
        return header.metadata;
    }

    /** Returns what the header says about each tensor, by name, in the order of their data. */
    public Map<String, TensorInfo> tensors() {
        return header.tensors;
    }

    /**
     * Reads one tensor's data.
     *
     * @throws IllegalArgumentException if the file has no tensor of that name
     * @throws IOException if it cannot be read, the file has shrunk since it was opened, or the
     *     tensor is larger than one {@link Tensor} can hold (2 GiB)
     */
    public Tensor read(String name) throws IOException {
        TensorInfo info = header.tensors.get(name);
        if (info == null) {
            throw new IllegalArgumentException(source + ": no tensor " + Excerpt.quote(name));
        }
        if (info.byteSize() > MAX_TENSOR_BYTES) {
            throw new IOException(source + ": tensor " + Excerpt.quote(name) + " holds " + info.byteSize()
                    + " bytes, more than one in-memory Tensor can hold (" + MAX_TENSOR_BYTES + ")");
        }
        ByteBuffer data = ByteBuffer.allocate((int) info.byteSize());
        readFully(channel, dataStart + info.begin(), data, source);
        return Tensor.wrap(info.dtype(), info.shape(), data.array());
    }

    /** Reads every tensor into memory. */
    public SafeTensors readAll() throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (String name : header.tensors.keySet()) {
            tensors.put(name, read(name));
        }
        return new SafeTensors(tensors, header.metadata);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private static void readFully(SeekableByteChannel channel, long position, ByteBuffer dst, String source)
            throws IOException {
        long at = position;
        while (dst.hasRemaining()) {
            int read;
            if (channel instanceof FileChannel) {
                read = ((FileChannel) channel).read(dst, at);
            } else {
                synchronized (channel) {
                    channel.position(at);
                    read = channel.read(dst);
                }
            }
            if (read < 0) {
                throw new EOFException(source + ": the file ended at byte " + at + " while " + dst.remaining()
                        + " more bytes were expected; did it shrink while being read?");
            }
            at += read;
        }
    }
}
