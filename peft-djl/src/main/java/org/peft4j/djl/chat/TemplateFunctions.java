package org.peft4j.djl.chat;

import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import java.time.LocalDateTime;
import java.time.format.TextStyle;
import java.util.Locale;
import java.util.Map;

/**
 * The functions and filters transformers gives chat templates, for jinjava: {@code raise_exception},
 * {@code strftime_now} and a {@code tojson} that writes as Python's {@code json.dumps} does (", "
 * and ": " between items, non-ASCII kept).
 */
final class TemplateFunctions {
    private TemplateFunctions() {}

    /** What {@code raise_exception(message)} throws, to stop rendering with the template's message. */
    static final class RaisedByTemplate extends RuntimeException {
        private static final long serialVersionUID = 1L;

        RaisedByTemplate(String message) {
            super(message);
        }
    }

    /** {@code raise_exception(message)}: fails the rendering with the message. */
    public static Object raiseException(String message) {
        throw new RaisedByTemplate(message);
    }

    /** The message a template raised, if this error came from {@code raise_exception}; else the error's own. */
    static String raisedMessage(TemplateError error) {
        for (Throwable t = error.getException(); t != null; t = t.getCause()) {
            if (t instanceof RaisedByTemplate) {
                return "the template raised: " + t.getMessage();
            }
        }
        return error.getMessage();
    }

    /**
     * {@code strftime_now(format)}: the local time in a Python {@code strftime} format; the
     * directives %d %m %Y %y %H %M %S %b %B %a %A %j %p and %% are understood.
     */
    public static String strftimeNow(String format) {
        return strftime(LocalDateTime.now(), format);
    }

    static String strftime(LocalDateTime time, String format) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < format.length(); i++) {
            char c = format.charAt(i);
            if (c != '%' || i + 1 == format.length()) {
                out.append(c);
                continue;
            }
            char d = format.charAt(++i);
            switch (d) {
                case 'd' -> out.append(String.format(Locale.ROOT, "%02d", time.getDayOfMonth()));
                case 'm' -> out.append(String.format(Locale.ROOT, "%02d", time.getMonthValue()));
                case 'Y' -> out.append(time.getYear());
                case 'y' -> out.append(String.format(Locale.ROOT, "%02d", time.getYear() % 100));
                case 'H' -> out.append(String.format(Locale.ROOT, "%02d", time.getHour()));
                case 'M' -> out.append(String.format(Locale.ROOT, "%02d", time.getMinute()));
                case 'S' -> out.append(String.format(Locale.ROOT, "%02d", time.getSecond()));
                case 'b' -> out.append(time.getMonth().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'B' -> out.append(time.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'a' -> out.append(time.getDayOfWeek().getDisplayName(TextStyle.SHORT, Locale.ENGLISH));
                case 'A' -> out.append(time.getDayOfWeek().getDisplayName(TextStyle.FULL, Locale.ENGLISH));
                case 'j' -> out.append(String.format(Locale.ROOT, "%03d", time.getDayOfYear()));
                case 'p' -> out.append(time.getHour() < 12 ? "AM" : "PM");
                case '%' -> out.append('%');
                default -> throw new IllegalArgumentException("strftime_now: the directive %" + d + " is not supported");
            }
        }
        return out.toString();
    }

    /** {@code tojson}: JSON as Python's {@code json.dumps(value, ensure_ascii=False)} writes it. */
    static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object value, JinjavaInterpreter interpreter, String... args) {
            StringBuilder out = new StringBuilder();
            write(value, out);
            return out.toString();
        }

        private static void write(Object value, StringBuilder out) {
            if (value == null) {
                out.append("null");
            } else if (value instanceof Boolean || value instanceof Number) {
                out.append(value);
            } else if (value instanceof Map<?, ?> map) {
                out.append('{');
                String separator = "";
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    out.append(separator);
                    string(String.valueOf(e.getKey()), out);
                    out.append(": ");
                    write(e.getValue(), out);
                    separator = ", ";
                }
                out.append('}');
            } else if (value instanceof Iterable<?> items) {
                out.append('[');
                String separator = "";
                for (Object item : items) {
                    out.append(separator);
                    write(item, out);
                    separator = ", ";
                }
                out.append(']');
            } else {
                string(value.toString(), out);
            }
        }

        private static void string(String s, StringBuilder out) {
            out.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"' -> out.append("\\\"");
                    case '\\' -> out.append("\\\\");
                    case '\n' -> out.append("\\n");
                    case '\r' -> out.append("\\r");
                    case '\t' -> out.append("\\t");
                    case '\b' -> out.append("\\b");
                    case '\f' -> out.append("\\f");
                    default -> {
                        if (c < 0x20) {
                            out.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                        } else {
                            out.append(c);
                        }
                    }
                }
            }
            out.append('"');
        }
    }
}
