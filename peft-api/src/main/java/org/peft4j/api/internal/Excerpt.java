package org.peft4j.api.internal;

/**
 * Quotes text taken from a file in an error message: at most {@value #MAX_CHARS} characters of it,
 * in double quotes, with every character outside printable ASCII escaped ({@code \n}, {@code \u00e9},
 * ...), so that a message never carries a file's bytes to a terminal or a log, only a short, safe
 * excerpt of them.
 */
public final class Excerpt {
    /** The most characters of the original text an excerpt shows. */
    public static final int MAX_CHARS = 80;

    private Excerpt() {}

    /**
     * Returns {@code text} quoted and escaped, cut after {@value #MAX_CHARS} characters with a note
     * of how many more there were; {@code null} gives {@code null}.
     */
    public static String quote(CharSequence text) {
        return quote(text, MAX_CHARS);
    }

    /**
     * Returns {@code text} quoted and escaped, cut after {@code maxChars} characters: for a parser's
     * own message, whose quotes of the input the parser has already cut short.
     */
    public static String quote(CharSequence text, int maxChars) {
        if (text == null) {
            return "null";
        }
        return escape(text, maxChars, true);
    }

    /**
     * Returns {@code text} escaped and cut as {@link #quote} does, without the quotes: for JSON
     * text such as {@code 8.5} or {@code [1,2]}, which reads best as written.
     */
    public static String unquoted(CharSequence text) {
        return text == null ? "null" : escape(text, MAX_CHARS, false);
    }

    private static String escape(CharSequence text, int maxChars, boolean quoted) {
        int shown = Math.min(text.length(), maxChars);
        StringBuilder out = new StringBuilder(shown + 16);
        if (quoted) {
            out.append('"');
        }
        for (int i = 0; i < shown; i++) {
            char c = text.charAt(i);
            switch (c) {
                case '"':
                    out.append("\\\"");
                    break;
                case '\\':
                    out.append("\\\\");
                    break;
                case '\n':
                    out.append("\\n");
                    break;
                case '\r':
                    out.append("\\r");
                    break;
                case '\t':
                    out.append("\\t");
                    break;
                default:
                    if (c >= 0x20 && c < 0x7f) {
                        out.append(c);
                    } else {
                        out.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                    }
            }
        }
        if (quoted) {
            out.append('"');
        }
        if (text.length() > shown) {
            out.append("... (").append(text.length() - shown).append(" more characters)");
        }
        return out.toString();
    }
}
