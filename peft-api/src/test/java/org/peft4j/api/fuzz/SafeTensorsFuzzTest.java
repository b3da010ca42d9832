package org.peft4j.api.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.api.safetensors.Tensor;

/**
 * Mutated safetensors files, seeded: each must end in a valid read or a
 * {@link SafeTensorsFormatException} with a short, printable message, within
 * {@value FuzzRun#BOUND_SECONDS} seconds, and the reader must agree with an independent judge
 * written from the specification ({@link SafeTensorsOracle}) on every file, reading accepted files
 * exactly as the judge does. The default run tries 3,000 files; the full set is
 * {@code mvn -B -ntp -pl peft-api test -Dtest=SafeTensorsFuzzTest -Dfuzz.cases=20000}
 * ({@code -Dfuzz.seed=S} for other files, {@code -Dfuzz.dump=DIR} to keep every file and its
 * verdict, for comparing with another reader).
 */
class SafeTensorsFuzzTest {
    private static final String[] DTYPES = SafeTensorsOracle.BITS.keySet().toArray(new String[0]);
    private static final String[] NUMBERS = {"-0", "-1", "1.0", "1e0", "1E2", "18446744073709551616", "18446744073709551617",
        "18446744073709551615", "9223372036854775808", "9223372036854775807", "01", "+1", "NaN", "Infinity", "1e400",
        "0.5", "4294967296", "2147483648", "00", "1" + "0".repeat(30)};
    private static final String[] AFTER = {"x", "{}", " ", "\t\n", "\u0000", "\f", "//", "]", ",", "\r\n  ", "\u00a0"};
    private static final String[] METADATA = {"null", "[]", "{\"a\":1}", "{\"a\":\"\\ud800\"}", "{\"a\":\"b\",\"a\":\"c\"}",
        "\"x\"", "{}", "{\"format\":\"pt\"}", "{\"k\":\"\\u0000\\n\\\"\"}", "{\"k\":null}"};
    private static final String[] UNKNOWN = {"1e400", "-1e400", "\"\\udc00\"", "{\"k\":1,\"k\":2}", "[1,2,{\"a\":null}]",
        "-0.0", "1e-400", "\"\\ud83d\\ude00\"", "true", "{\"\":[]}", "1" + "0".repeat(320), "0." + "0".repeat(400) + "1"};
    private static final String[] BAD_DTYPES = {"u8", "F17", "", "{\"F32\":null}", "5", "null", "\"F32\"", "[\"F32\"]"};
    private static final byte[][] BAD_UTF8 = {{(byte) 0x80}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80},
        {(byte) 0xf5, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xff}, {(byte) 0xe2, (byte) 0x82},
        {(byte) 0xef, (byte) 0xbb, (byte) 0xbf}, {(byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xc3, (byte) 0xa9}};
    private static final Pattern NUMBER = Pattern.compile("-?[0-9]+");

    @TempDir
    Path dir;

    /** One generated tensor: its JSON entry and its data. */
    private static final class Part {
        String entry;
        byte[] data;
    }

    private static String name(Random r, int i) {
        switch (r.nextInt(12)) {
            case 0:
                return "";
            case 1:
                return "caf\u00e9-\u6f22\u5b57-" + i;
            case 2:
                return "esc\\\"\\\\\\n\\u0041\\/" + i;
            case 3:
                return "n".repeat(1000 + r.nextInt(5000)) + i;
            case 4:
                return "x\\ud83d\\ude00" + i;
            case 5:
                return r.nextInt(4) == 0 ? "bad\\ud800" + i : "__metadata" + i;
            default:
                return "base_model.model.encoder.layer." + i + ".attention.self.query.lora_" + (i % 2 == 0 ? "A" : "B") + ".weight";
        }
    }

    private static String nesting(int depth) {
        return "[".repeat(depth) + "]".repeat(depth);
    }

    /** A file that is valid unless one of its knobs was turned (each with a small probability). */
    private static byte[] generate(Random r) {
        int count = r.nextInt(5);
        List<Part> parts = new ArrayList<>();
        List<Integer> layout = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String dtype = DTYPES[r.nextInt(DTYPES.length)];
            int bits = SafeTensorsOracle.BITS.get(dtype);
            List<Long> shape = new ArrayList<>();
            int rank = r.nextInt(4);
            long elements = 1;
            for (int d = 0; d < rank; d++) {
                long dim = r.nextInt(5);
                shape.add(dim);
                elements *= dim;
            }
            if (elements * bits % 8 != 0) {
                shape.add(bits == 4 ? 2L : 4L);
                elements *= bits == 4 ? 2 : 4;
            }
            Part p = new Part();
            p.data = new byte[(int) (elements * bits / 8)];
            r.nextBytes(p.data);
            p.entry = "\"" + name(r, i) + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape.toString().replace(" ", "");
            parts.add(p);
            layout.add(i);
        }
        Collections.shuffle(layout, r); // the data order need not be the key order
        long[] begin = new long[count];
        long at = 0;
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (int i : layout) {
            begin[i] = at;
            at += parts.get(i).data.length;
            data.writeBytes(parts.get(i).data);
        }
        List<String> entries = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Part p = parts.get(i);
            String offsets = "[" + begin[i] + "," + (begin[i] + p.data.length) + "]";
            String entry = p.entry;
            switch (r.nextInt(40)) {
                case 0:
                    entry = entry.replaceFirst("\"dtype\":\"[A-Z0-9_]+\"", "\"dtype\":" + BAD_DTYPES[r.nextInt(BAD_DTYPES.length)]);
                    break;
                case 1:
                    entry = entry.replaceFirst("\"dtype\":\"[A-Z0-9_]+\"", "\"dtype\":\"" + DTYPES[r.nextInt(DTYPES.length)] + "\"");
                    break;
                case 2:
                    offsets = new String[] {"[0]", "[0,1,2]", "null", "[" + (begin[i] + p.data.length) + "," + begin[i] + "]",
                        "[" + begin[i] + "," + (begin[i] + p.data.length + 1) + "]", "{}"}[r.nextInt(6)];
                    break;
                case 3:
                    entry = entry.replaceFirst("\"shape\":\\[[0-9,]*\\]", "\"shape\":" + new String[] {"[]", "null", "\"3\"", "[1.0]",
                        "[-1]", "[4294967296,4294967296,0]", "[4294967296,2147483648,0]"}[r.nextInt(7)]);
                    break;
                case 4:
                    entry += ",\"x\":" + (r.nextBoolean() ? nesting(120 + r.nextInt(10)) : UNKNOWN[r.nextInt(UNKNOWN.length)]);
                    break;
                case 5:
                    entry += ",\"dtype\":\"U8\"";
                    break;
                case 6:
                    entry = entry.replaceFirst(",\"shape\":\\[[0-9,]*\\]", "");
                    break;
                default:
                    break;
            }
            entries.add(entry + ",\"data_offsets\":" + offsets + "}");
        }
        if (r.nextInt(20) == 0 && !entries.isEmpty()) {
            entries.add(entries.get(r.nextInt(entries.size()))); // a repeated key
        }
        int metadataChoice = r.nextInt(4);
        if (metadataChoice > 0) {
            String metadata = metadataChoice == 1 ? "null" : metadataChoice == 2 ? "{\"format\":\"pt\"}"
                    : METADATA[r.nextInt(METADATA.length)];
            entries.add(r.nextInt(entries.size() + 1), "\"__metadata__\":" + metadata);
        }
        String header = "{" + String.join(",", entries) + "}";
        if (r.nextInt(4) == 0) {
            header = " \t\n\r".charAt(r.nextInt(4)) + header;
        }
        int pad = r.nextInt(3) == 0 ? r.nextInt(16) : (8 - header.length() % 8) % 8;
        header += " ".repeat(pad);
        return assemble(header.getBytes(StandardCharsets.UTF_8), data.toByteArray());
    }

    private static byte[] assemble(byte[] header, byte[] data) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int k = 0; k < 8; k++) {
            out.write((int) ((long) header.length >>> (8 * k)));
        }
        out.writeBytes(header);
        out.writeBytes(data);
        return out.toByteArray();
    }

    private static int headerLength(byte[] file) {
        if (file.length < 8) {
            return -1;
        }
        long n = 0;
        for (int k = 7; k >= 0; k--) {
            n = n << 8 | file[k] & 0xff;
        }
        return n >= 0 && n <= file.length - 8 ? (int) n : -1;
    }

    /** Turns one more knob, on the header's text or on the file's bytes. */
    private static byte[] mutate(Random r, byte[] file) {
        int n = headerLength(file);
        if (n < 0) {
            return file;
        }
        String header = new String(file, 8, n, StandardCharsets.UTF_8);
        byte[] data = Arrays.copyOfRange(file, 8 + n, file.length);
        switch (r.nextInt(12)) {
            case 0: { // a number replaced by a tricky one
                Matcher m = NUMBER.matcher(header);
                List<int[]> found = new ArrayList<>();
                while (m.find()) {
                    found.add(new int[] {m.start(), m.end()});
                }
                if (found.isEmpty()) {
                    return file;
                }
                int[] at = found.get(r.nextInt(found.size()));
                return assemble(utf8(header.substring(0, at[0]) + NUMBERS[r.nextInt(NUMBERS.length)] + header.substring(at[1])), data);
            }
            case 1:
                return assemble(utf8("\ufeff" + header), data);
            case 2: {
                String trimmed = header.stripTrailing();
                return assemble(utf8(trimmed + AFTER[r.nextInt(AFTER.length)]), data);
            }
            case 3: { // one character deleted or inserted
                StringBuilder b = new StringBuilder(header);
                int at = r.nextInt(b.length() + 1);
                if (r.nextBoolean() && at < b.length()) {
                    b.deleteCharAt(at);
                } else {
                    String chars = "{}[]\",:0123456789 -eE.\\u\u0001";
                    b.insert(at, chars.charAt(r.nextInt(chars.length())));
                }
                return assemble(utf8(b.toString()), data);
            }
            case 4: { // invalid (or valid) UTF-8 bytes inside the header
                byte[] h = Arrays.copyOfRange(file, 8, 8 + n);
                byte[] insert = BAD_UTF8[r.nextInt(BAD_UTF8.length)];
                int at = r.nextInt(h.length + 1);
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                b.write(h, 0, at);
                b.writeBytes(insert);
                b.write(h, at, h.length - at);
                return assemble(b.toByteArray(), data);
            }
            case 5: { // a byte flipped anywhere
                byte[] copy = file.clone();
                int at = r.nextInt(copy.length);
                copy[at] ^= (byte) (1 << r.nextInt(8));
                return copy;
            }
            case 6:
                return Arrays.copyOf(file, r.nextInt(file.length + 1));
            case 7: {
                byte[] extra = new byte[1 + r.nextInt(16)];
                r.nextBytes(extra);
                byte[] copy = Arrays.copyOf(file, file.length + extra.length);
                System.arraycopy(extra, 0, copy, file.length, extra.length);
                return copy;
            }
            case 8: { // the length field changed
                long[] lengths = {n + 1 + r.nextInt(8), Math.max(0, n - 1 - r.nextInt(8)), Long.MIN_VALUE, -1L, 100_000_001L,
                    r.nextLong(), 100_000_000L};
                long v = lengths[r.nextInt(lengths.length)];
                byte[] copy = file.clone();
                for (int k = 0; k < 8; k++) {
                    copy[k] = (byte) (v >>> (8 * k));
                }
                return copy;
            }
            case 9: { // a lone surrogate or control escape in a string
                int at = header.indexOf('"');
                if (at < 0) {
                    return file;
                }
                String[] escapes = {"\\ud800", "\\udfff", "\\u0000", "\\ud800\\u0041", "\\u00e9", "\\x", "\\u12"};
                return assemble(utf8(header.substring(0, at + 1) + escapes[r.nextInt(escapes.length)] + header.substring(at + 1)), data);
            }
            case 10: // deep nesting around the whole header
                int depth = 120 + r.nextInt(12);
                return assemble(utf8("[".repeat(depth) + header.strip() + "]".repeat(depth)), data);
            default: // the data one byte longer or shorter
                return r.nextBoolean() ? Arrays.copyOf(file, file.length + 1) : Arrays.copyOf(file, Math.max(0, file.length - 1));
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void everyMutatedFileEndsInAValidReadOrAFormatErrorAndAgreesWithTheJudge() throws Exception {
        int cases = FuzzRun.cases(3000);
        Random random = new Random(FuzzRun.seed());
        String dump = System.getProperty("fuzz.dump");
        StringBuilder verdicts = new StringBuilder();
        try (FuzzRun run = new FuzzRun("safetensors fuzzer")) {
            for (int i = 0; i < cases; i++) {
                byte[] file = generate(random);
                int mutations = random.nextInt(4) == 0 ? 0 : 1 + random.nextInt(2);
                for (int m = 0; m < mutations; m++) {
                    file = mutate(random, file);
                }
                byte[] bytes = file;
                Object out;
                if (i % 25 == 0) { // through a file and positioned reads, as loading does
                    Path path = dir.resolve("case.safetensors");
                    Files.write(path, bytes);
                    out = run.run(i, () -> SafeTensors.read(path));
                } else {
                    out = run.run(i, () -> SafeTensors.parse(bytes));
                }
                SafeTensorsOracle.Verdict verdict = SafeTensorsOracle.judge(bytes);
                if (dump != null) {
                    Files.createDirectories(Path.of(dump));
                    Files.write(Path.of(dump, "case-" + i + ".safetensors"), bytes);
                    verdicts.append(i).append('\t').append(out instanceof SafeTensors ? "accept" : "refuse").append('\n');
                }
                if (out instanceof SafeTensors) {
                    run.accepted++;
                    if (!verdict.valid()) {
                        run.bad("case " + i + ": accepted a file the format forbids (" + verdict.reason + ")");
                    } else {
                        String difference = compare((SafeTensors) out, verdict, bytes);
                        if (difference != null) {
                            run.bad("case " + i + ": read differently from the judge: " + difference);
                        }
                    }
                } else if (out instanceof SafeTensorsFormatException) {
                    run.cleanErrors++;
                    if (!run.messageIsClean((Throwable) out)) {
                        run.bad("case " + i + ": a message with raw content or too long: " + ((Throwable) out).getMessage().length() + " chars");
                    }
                    if (verdict.valid()) {
                        run.bad("case " + i + ": refused a valid file: " + ((Throwable) out).getMessage());
                    }
                } else if (out != null) {
                    run.bad("case " + i + ": " + out);
                }
            }
            if (dump != null) {
                Files.writeString(Path.of(dump, "verdicts.tsv"), verdicts);
            }
            System.out.println(run.summary());
            run.bad.forEach(b -> System.out.println("  " + b));
            assertThat(run.bad).isEmpty();
            assertThat(run.accepted).as("valid files among the cases").isPositive();
            assertThat(run.cleanErrors).as("invalid files among the cases").isPositive();
        }
    }

    private static String compare(SafeTensors read, SafeTensorsOracle.Verdict verdict, byte[] file) {
        if (read.tensors().size() != verdict.entries.size()) {
            return read.tensors().size() + " tensors, the judge " + verdict.entries.size();
        }
        for (SafeTensorsOracle.Entry e : verdict.entries) {
            Tensor t = read.tensors().get(e.name);
            if (t == null) {
                return "no tensor " + e.name.length() + " chars long";
            }
            long[] shape = e.shape.stream().mapToLong(Long::longValue).toArray();
            byte[] expected = Arrays.copyOfRange(file, (int) (verdict.dataStart + e.begin), (int) (verdict.dataStart + e.end));
            byte[] actual = new byte[t.byteSize()];
            t.bytes().get(actual);
            if (!t.dtype().name().equals(e.dtype) || !Arrays.equals(t.shape(), shape) || !Arrays.equals(actual, expected)) {
                return "tensor " + e.name.length() + " chars long differs";
            }
        }
        Map<String, String> metadata = read.metadata();
        return metadata.equals(verdict.metadata) ? null : "metadata differs";
    }
}
