package org.peft4j.api.fuzz;

import java.util.ArrayList;
import java.util.List;

/**
 * An independent reader of JSON text and UTF-8 bytes, written for the fuzzers' oracles from the
 * specifications alone (RFC 8259 for JSON, RFC 3629's table of well-formed UTF-8 sequences), with
 * no code shared with the readers under test. Values: {@link Obj}, {@link List}, {@link String},
 * {@link Num} (the number's text), {@link Boolean}, {@link #NULL}.
 */
final class StrictJson {
    /** JSON's null. */
    static final Object NULL = new Object() {
        @Override
        public String toString() {
            return "null";
        }
    };

    /** A JSON object: its members in order, repeats kept. */
    static final class Obj {
        final List<String> keys = new ArrayList<>();
        final List<Object> values = new ArrayList<>();

        boolean hasRepeatedKey() {
            return keys.size() != new java.util.HashSet<>(keys).size();
        }

        Object get(String key) {
            int i = keys.indexOf(key);
            return i < 0 ? null : values.get(i);
        }
    }

    /** A JSON number, as written. */
    static final class Num {
        final String text;

        Num(String text) {
            this.text = text;
        }

        boolean isPlainUnsignedInteger() {
            return text.matches("0|[1-9][0-9]*");
        }
    }

    /** Thrown for text that is not JSON. */
    static final class Invalid extends Exception {
        private static final long serialVersionUID = 1L;

        Invalid(String message) {
            super(message);
        }
    }

    private final String s;
    private final int maxDepth;
    private int i;

    private StrictJson(String s, int maxDepth) {
        this.s = s;
        this.maxDepth = maxDepth;
    }

    /** Decodes well-formed UTF-8 (RFC 3629, table 3-7 of Unicode), or throws. */
    static String utf8(byte[] b, int from, int to) throws Invalid {
        StringBuilder out = new StringBuilder(to - from);
        int k = from;
        while (k < to) {
            int b0 = b[k] & 0xff;
            int cp;
            int len;
            int lo = 0x80;
            int hi = 0xbf;
            if (b0 < 0x80) {
                cp = b0;
                len = 1;
            } else if (b0 >= 0xc2 && b0 <= 0xdf) {
                cp = b0 & 0x1f;
                len = 2;
            } else if (b0 >= 0xe0 && b0 <= 0xef) {
                cp = b0 & 0x0f;
                len = 3;
                lo = b0 == 0xe0 ? 0xa0 : 0x80;
                hi = b0 == 0xed ? 0x9f : 0xbf;
            } else if (b0 >= 0xf0 && b0 <= 0xf4) {
                cp = b0 & 0x07;
                len = 4;
                lo = b0 == 0xf0 ? 0x90 : 0x80;
                hi = b0 == 0xf4 ? 0x8f : 0xbf;
            } else {
                throw new Invalid("bad UTF-8 lead byte at " + (k - from));
            }
            if (k + len > to) {
                throw new Invalid("truncated UTF-8 at " + (k - from));
            }
            for (int j = 1; j < len; j++) {
                int bj = b[k + j] & 0xff;
                int min = j == 1 ? lo : 0x80;
                int max = j == 1 ? hi : 0xbf;
                if (bj < min || bj > max) {
                    throw new Invalid("bad UTF-8 continuation at " + (k - from + j));
                }
                cp = cp << 6 | bj & 0x3f;
            }
            out.appendCodePoint(cp);
            k += len;
        }
        return out.toString();
    }

    /** Parses one JSON value surrounded only by JSON whitespace, nesting at most {@code maxDepth} levels. */
    static Object parse(String text, int maxDepth) throws Invalid {
        StrictJson p = new StrictJson(text, maxDepth);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.i != text.length()) {
            throw new Invalid("text after the value at " + p.i);
        }
        return v;
    }

    private void ws() {
        while (i < s.length() && (s.charAt(i) == ' ' || s.charAt(i) == '\t' || s.charAt(i) == '\n' || s.charAt(i) == '\r')) {
            i++;
        }
    }

    private Object value(int depth) throws Invalid {
        if (i >= s.length()) {
            throw new Invalid("end of text where a value should be");
        }
        char c = s.charAt(i);
        if (c == '{' || c == '[') {
            if (depth + 1 > maxDepth) {
                throw new Invalid("nested deeper than " + maxDepth);
            }
            return c == '{' ? object(depth + 1) : array(depth + 1);
        }
        if (c == '"') {
            return string();
        }
        if (s.startsWith("true", i)) {
            i += 4;
            return Boolean.TRUE;
        }
        if (s.startsWith("false", i)) {
            i += 5;
            return Boolean.FALSE;
        }
        if (s.startsWith("null", i)) {
            i += 4;
            return NULL;
        }
        return number();
    }

    private Obj object(int depth) throws Invalid {
        Obj o = new Obj();
        i++;
        ws();
        if (i < s.length() && s.charAt(i) == '}') {
            i++;
            return o;
        }
        while (true) {
            ws();
            if (i >= s.length() || s.charAt(i) != '"') {
                throw new Invalid("expected a member name at " + i);
            }
            String key = string();
            ws();
            expect(':');
            ws();
            Object v = value(depth);
            o.keys.add(key);
            o.values.add(v);
            ws();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
                continue;
            }
            expect('}');
            return o;
        }
    }

    private List<Object> array(int depth) throws Invalid {
        List<Object> a = new ArrayList<>();
        i++;
        ws();
        if (i < s.length() && s.charAt(i) == ']') {
            i++;
            return a;
        }
        while (true) {
            ws();
            a.add(value(depth));
            ws();
            if (i < s.length() && s.charAt(i) == ',') {
                i++;
                continue;
            }
            expect(']');
            return a;
        }
    }

    private void expect(char c) throws Invalid {
        if (i >= s.length() || s.charAt(i) != c) {
            throw new Invalid("expected '" + c + "' at " + i);
        }
        i++;
    }

    private String string() throws Invalid {
        i++;
        StringBuilder out = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw new Invalid("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw new Invalid("control character in a string");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw new Invalid("unterminated escape");
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"': out.append('"'); break;
                case '\\': out.append('\\'); break;
                case '/': out.append('/'); break;
                case 'b': out.append('\b'); break;
                case 'f': out.append('\f'); break;
                case 'n': out.append('\n'); break;
                case 'r': out.append('\r'); break;
                case 't': out.append('\t'); break;
                case 'u':
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        if (!s.startsWith("\\u", i)) {
                            throw new Invalid("lone high surrogate");
                        }
                        i += 2;
                        char low = hex4();
                        if (!Character.isLowSurrogate(low)) {
                            throw new Invalid("high surrogate without a low one");
                        }
                        out.append(u).append(low);
                    } else if (Character.isLowSurrogate(u)) {
                        throw new Invalid("lone low surrogate");
                    } else {
                        out.append(u);
                    }
                    break;
                default:
                    throw new Invalid("bad escape");
            }
        }
    }

    private char hex4() throws Invalid {
        if (i + 4 > s.length()) {
            throw new Invalid("short \\u escape");
        }
        int v = 0;
        for (int k = 0; k < 4; k++) {
            int d = Character.digit(s.charAt(i + k), 16);
            if (d < 0) {
                throw new Invalid("bad hex digit");
            }
            v = v * 16 + d;
        }
        i += 4;
        return (char) v;
    }

    private Num number() throws Invalid {
        int start = i;
        if (i < s.length() && s.charAt(i) == '-') {
            i++;
        }
        if (i < s.length() && s.charAt(i) == '0') {
            i++;
        } else if (i < s.length() && s.charAt(i) >= '1' && s.charAt(i) <= '9') {
            while (i < s.length() && Character.isDigit(s.charAt(i)) && s.charAt(i) < 128) {
                i++;
            }
        } else {
            throw new Invalid("not a value at " + start);
        }
        if (i < s.length() && s.charAt(i) == '.') {
            i++;
            int digits = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
            }
            if (i == digits) {
                throw new Invalid("no digits after the point");
            }
        }
        if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            i++;
            if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
                i++;
            }
            int digits = i;
            while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
            }
            if (i == digits) {
                throw new Invalid("no digits in the exponent");
            }
        }
        return new Num(s.substring(start, i));
    }

    /** Whether a JSON number's magnitude rounds to infinity as an IEEE double. */
    static boolean overflowsDouble(Num n) {
        java.math.BigDecimal v;
        try {
            v = new java.math.BigDecimal(n.text).abs();
        } catch (NumberFormatException | ArithmeticException e) {
            return !n.text.matches(".*[eE]-.*"); // an exponent beyond int range: huge unless negative
        }
        // the smallest magnitude that rounds to infinity: MAX + half an ulp of MAX
        java.math.BigDecimal limit = new java.math.BigDecimal(Double.MAX_VALUE)
                .add(new java.math.BigDecimal(Math.ulp(Double.MAX_VALUE)).divide(java.math.BigDecimal.valueOf(2)));
        return v.compareTo(limit) >= 0;
    }
}
