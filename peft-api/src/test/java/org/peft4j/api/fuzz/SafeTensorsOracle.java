package org.peft4j.api.fuzz;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An independent judge of safetensors files, written from the format's specification (the
 * huggingface/safetensors README and the rules of its reference reader) with its own JSON and
 * UTF-8 reading ({@link StrictJson}) and exact big-integer arithmetic, sharing no code with the
 * reader under test. It holds the same documented decisions as peft4j (repeated keys, dimensions of
 * 2^63 or more and serde's map form of a dtype are refused; at most 262,144 tensors), so that it
 * and the reader must agree on every file.
 */
final class SafeTensorsOracle {
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);
    private static final BigInteger I64_LIMIT = BigInteger.ONE.shiftLeft(63);
    /** Bits per element of every dtype the specification lists. */
    static final Map<String, Integer> BITS = new LinkedHashMap<>();

    static {
        String[] names = {"BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
            "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "C64", "F64", "I64", "U64"};
        int[] bits = {8, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 32, 32, 32, 64, 64, 64, 64};
        for (int k = 0; k < names.length; k++) {
            BITS.put(names[k], bits[k]);
        }
    }

    /** One tensor a valid file holds. */
    static final class Entry {
        final String name;
        final String dtype;
        final List<Long> shape;
        final long begin;
        final long end;

        Entry(String name, String dtype, List<Long> shape, long begin, long end) {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape;
            this.begin = begin;
            this.end = end;
        }
    }

    /** The verdict: null entries if the file is invalid, with the reason. */
    static final class Verdict {
        final List<Entry> entries;
        final Map<String, String> metadata;
        final String reason;
        final long dataStart;

        Verdict(List<Entry> entries, Map<String, String> metadata, long dataStart) {
            this.entries = entries;
            this.metadata = metadata;
            this.reason = null;
            this.dataStart = dataStart;
        }

        Verdict(String reason) {
            this.entries = null;
            this.metadata = null;
            this.reason = reason;
            this.dataStart = -1;
        }

        boolean valid() {
            return entries != null;
        }
    }

    private SafeTensorsOracle() {}

    static Verdict judge(byte[] file) {
        if (file.length < 8) {
            return new Verdict("shorter than the length field");
        }
        BigInteger n = BigInteger.ZERO;
        for (int k = 7; k >= 0; k--) {
            n = n.shiftLeft(8).or(BigInteger.valueOf(file[k] & 0xff));
        }
        if (n.compareTo(BigInteger.valueOf(100_000_000)) > 0) {
            return new Verdict("header longer than 100,000,000 bytes");
        }
        if (n.longValue() > file.length - 8) {
            return new Verdict("header runs past the end");
        }
        int headerEnd = 8 + n.intValue();
        Object root;
        try {
            root = StrictJson.parse(StrictJson.utf8(file, 8, headerEnd), 127);
        } catch (StrictJson.Invalid e) {
            return new Verdict("header: " + e.getMessage());
        }
        if (!(root instanceof StrictJson.Obj)) {
            return new Verdict("header is not an object");
        }
        StrictJson.Obj header = (StrictJson.Obj) root;
        if (header.hasRepeatedKey()) {
            return new Verdict("a repeated key");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (int k = 0; k < header.keys.size(); k++) {
            String key = header.keys.get(k);
            Object v = header.values.get(k);
            if (key.equals("__metadata__")) {
                if (v == StrictJson.NULL) {
                    continue;
                }
                if (!(v instanceof StrictJson.Obj) || ((StrictJson.Obj) v).hasRepeatedKey()) {
                    return new Verdict("bad __metadata__");
                }
                StrictJson.Obj m = (StrictJson.Obj) v;
                for (int j = 0; j < m.keys.size(); j++) {
                    if (!(m.values.get(j) instanceof String)) {
                        return new Verdict("a metadata value that is not a string");
                    }
                    metadata.put(m.keys.get(j), (String) m.values.get(j));
                }
                continue;
            }
            String problem = entry(key, v, entries);
            if (problem != null) {
                return new Verdict(problem);
            }
        }
        if (entries.size() > 262_144) {
            return new Verdict("too many tensors");
        }
        entries.sort(Comparator.comparingLong((Entry e) -> e.begin).thenComparingLong(e -> e.end));
        long at = 0;
        for (Entry e : entries) {
            if (e.begin != at) {
                return new Verdict("offsets not contiguous");
            }
            at = e.end;
        }
        if (at != file.length - (long) headerEnd) {
            return new Verdict("tensors do not cover the data exactly");
        }
        return new Verdict(entries, metadata, headerEnd);
    }

    private static String entry(String name, Object v, List<Entry> entries) {
        if (!(v instanceof StrictJson.Obj)) {
            return "a tensor that is not an object";
        }
        StrictJson.Obj o = (StrictJson.Obj) v;
        for (String field : new String[] {"dtype", "shape", "data_offsets"}) {
            if (o.keys.indexOf(field) != o.keys.lastIndexOf(field)) {
                return "a repeated field";
            }
        }
        for (Object value : o.values) {
            if (!finiteNumbers(value)) {
                return "a number out of range";
            }
        }
        Object dtype = o.get("dtype");
        Object shape = o.get("shape");
        Object offsets = o.get("data_offsets");
        if (!(dtype instanceof String) || !BITS.containsKey(dtype)) {
            return "a bad dtype";
        }
        if (!(shape instanceof List) || !(offsets instanceof List) || ((List<?>) offsets).size() != 2) {
            return "a bad shape or data_offsets";
        }
        List<Long> dims = new ArrayList<>();
        BigInteger elements = BigInteger.ONE;
        for (Object d : (List<?>) shape) {
            BigInteger x = unsigned(d);
            if (x == null) {
                return "a bad dimension";
            }
            elements = elements.multiply(x);
            if (elements.compareTo(U64_MAX) > 0) {
                return "an element count beyond 64 bits";
            }
            dims.add(x.longValue());
        }
        BigInteger bits = elements.multiply(BigInteger.valueOf(BITS.get(dtype)));
        if (bits.compareTo(U64_MAX) > 0 || bits.mod(BigInteger.valueOf(8)).signum() != 0) {
            return "a bit count beyond 64 bits or not whole bytes";
        }
        BigInteger begin = unsigned(((List<?>) offsets).get(0));
        BigInteger end = unsigned(((List<?>) offsets).get(1));
        if (begin == null || end == null || end.compareTo(begin) < 0) {
            return "bad data_offsets";
        }
        if (!end.subtract(begin).equals(bits.shiftRight(3))) {
            return "data_offsets that do not fit the dtype and shape";
        }
        entries.add(new Entry(name, (String) dtype, dims, begin.longValue(), end.longValue()));
        return null;
    }

    /** An integer written without sign, fraction or exponent, below 2^63; else null. */
    private static BigInteger unsigned(Object v) {
        if (!(v instanceof StrictJson.Num) || !((StrictJson.Num) v).isPlainUnsignedInteger()) {
            return null;
        }
        BigInteger x = new BigInteger(((StrictJson.Num) v).text);
        return x.compareTo(I64_LIMIT) < 0 ? x : null;
    }

    private static boolean finiteNumbers(Object v) {
        if (v instanceof StrictJson.Num) {
            return !StrictJson.overflowsDouble((StrictJson.Num) v);
        }
        if (v instanceof List) {
            for (Object x : (List<?>) v) {
                if (!finiteNumbers(x)) {
                    return false;
                }
            }
        }
        if (v instanceof StrictJson.Obj) {
            for (Object x : ((StrictJson.Obj) v).values) {
                if (!finiteNumbers(x)) {
                    return false;
                }
            }
        }
        return true;
    }
}
