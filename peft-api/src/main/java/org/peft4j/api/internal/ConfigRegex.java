package org.peft4j.api.internal;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * A regular expression read from a config ({@code target_modules}, {@code exclude_modules}, the
 * keys of {@code rank_pattern} and {@code alpha_pattern}), which is untrusted input: it is matched
 * with RE2/J, whose running time grows linearly with the text, so that {@code (.*){12}!} cannot
 * hang loading as it does with a backtracking engine; and it is refused before compiling if it
 * would compile to more than {@value #MAX_PROGRAM_SIZE} instructions (nested counted repetitions
 * such as {@code ((a{1000}){1000}){1000}} would otherwise exhaust the heap while compiling) or
 * nests groups deeper than {@value #MAX_NESTING}.
 *
 * <p>Hugging Face PEFT matches these with Python's {@code re}; RE2 reads the same syntax except
 * look-around, back-references, possessive quantifiers and atomic groups, which are refused with
 * a message. Two Python spellings RE2 reads differently are translated: {@code \Z} (end of text)
 * and {@code {,n}} (zero to n times). RE2's {@code \d}, {@code \w} and {@code \s} are ASCII-only,
 * where Python's also match other scripts' digits and letters; module paths are ASCII.
 */
public final class ConfigRegex {
    /** The most instructions (estimated from the expression's text) a config's expression may compile to. */
    public static final int MAX_PROGRAM_SIZE = 5_000;
    /** The deepest nesting of groups a config's expression may have. */
    public static final int MAX_NESTING = 100;

    private final String source;
    private final Pattern pattern;

    private ConfigRegex(String source, Pattern pattern) {
        this.source = source;
        this.pattern = pattern;
    }

    /**
     * Compiles {@code regex}, read from the config key {@code key}.
     *
     * @throws IllegalArgumentException naming the key, if the expression is malformed, uses a
     *     feature RE2 lacks, or exceeds the size or nesting bounds
     */
    public static ConfigRegex compile(String regex, String key) {
        String translated = checkAndTranslate(regex, key + ": " + Excerpt.quote(regex));
        try {
            return new ConfigRegex(regex, Pattern.compile(translated));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(key + ": " + Excerpt.quote(regex)
                    + " is not a regular expression peft4j can match in linear time (RE2 syntax, without"
                    + " look-around, back-references or possessive quantifiers): " + e.getDescription(), e);
        }
    }

    /**
     * Compiles a {@code rank_pattern} or {@code alpha_pattern} key as Hugging Face PEFT's
     * {@code get_pattern_key} uses it (peft/utils/other.py, lines 1524-1532 at commit 5d602fd):
     * {@code re.match(rf"(.*\.)?({key})$", module_path)}, the key pasted into that expression as
     * text; {@link #matchesAtStart} then matches as {@code re.match} does.
     *
     * @throws IllegalArgumentException naming the key, as {@link #compile} does
     */
    public static ConfigRegex patternKey(String patternKey, String field) {
        String where = field + " key " + Excerpt.quote(patternKey);
        String translated = checkAndTranslate(patternKey, where);
        try {
            return new ConfigRegex(patternKey, Pattern.compile("(.*\\.)?(" + translated + ")$"));
        } catch (PatternSyntaxException e) {
            throw new IllegalArgumentException(where + " is not a regular expression peft4j can match in linear time"
                    + " (RE2 syntax, without look-around, back-references or possessive quantifiers): "
                    + e.getDescription(), e);
        }
    }

    /** Returns the expression as the config wrote it. */
    public String source() {
        return source;
    }

    /** Returns whether the whole of {@code text} matches, as Python's {@code re.fullmatch}. */
    public boolean fullMatch(String text) {
        return pattern.matcher(text).matches();
    }

    /** Returns whether a prefix of {@code text} matches, as Python's {@code re.match}. */
    public boolean matchesAtStart(String text) {
        return pattern.matcher(text).lookingAt();
    }

    /**
     * Bounds the compiled size and the nesting, estimating from the text as RE2 compiles: a literal
     * or a class is one instruction, a group the sum of its parts, {@code x*}, {@code x+} and
     * {@code x?} one more than {@code x}, and {@code x{n,m}} up to max(n, m) copies of {@code x};
     * and translates Python's {@code \Z} and {@code {,n}}.
     */
    private static String checkAndTranslate(String regex, String subject) {
        StringBuilder out = new StringBuilder(regex.length());
        long[] totals = new long[MAX_NESTING + 2];
        long[] lasts = new long[MAX_NESTING + 2];
        int depth = 0;
        long total = 0;
        long last = 0;
        int n = regex.length();
        for (int i = 0; i < n; i++) {
            char c = regex.charAt(i);
            int start = i;
            long atom = 1;
            boolean isAtom = true;
            switch (c) {
                case '\\':
                    if (i + 1 < n && regex.charAt(i + 1) == 'Q') {
                        int endQuote = regex.indexOf("\\E", i + 2);
                        i = endQuote < 0 ? n - 1 : endQuote + 1;
                        atom = Math.max(1, i - start);
                    } else if (i + 2 < n && "xpP".indexOf(regex.charAt(i + 1)) >= 0 && regex.charAt(i + 2) == '{') {
                        int close = regex.indexOf('}', i + 3);
                        i = close < 0 ? n - 1 : close;
                    } else if (i + 1 < n && regex.charAt(i + 1) == 'Z') {
                        out.append("\\z");
                        i++;
                        total += last;
                        last = 1;
                        continue;
                    } else {
                        i = Math.min(i + 1, n - 1);
                    }
                    break;
                case '[':
                    i = endOfClass(regex, i);
                    break;
                case '(':
                    isAtom = false;
                    if (regex.startsWith("(?", i) && isFlagsOnly(regex, i + 2)) {
                        i = regex.indexOf(')', i);
                        break;
                    }
                    if (++depth > MAX_NESTING) {
                        throw new IllegalArgumentException(subject + " nests groups deeper than " + MAX_NESTING + " levels");
                    }
                    totals[depth] = total;
                    lasts[depth] = last;
                    total = 0;
                    last = 0;
                    break;
                case ')':
                    isAtom = false;
                    if (depth > 0) {
                        long group = total + last + 1;
                        total = totals[depth] + lasts[depth];
                        last = group;
                        depth--;
                    }
                    break;
                case '|':
                    isAtom = false;
                    total += last + 1;
                    last = 0;
                    break;
                case '*':
                case '+':
                case '?':
                    isAtom = false;
                    last += 1;
                    break;
                case '{':
                    int close = regex.indexOf('}', i);
                    String body = close < 0 ? "" : regex.substring(i + 1, close);
                    if (body.matches("\\d{1,9}(,\\d{0,9})?|,\\d{1,9}")) {
                        isAtom = false;
                        String[] bounds = body.split(",", -1);
                        long min = bounds[0].isEmpty() ? 0 : Long.parseLong(bounds[0]);
                        long max = bounds.length == 1 ? min : bounds[1].isEmpty() ? min + 1 : Long.parseLong(bounds[1]);
                        last = saturatingMultiply(last, Math.max(1, Math.max(min, max))) + 1;
                        out.append('{').append(bounds[0].isEmpty() ? "0" : "").append(body).append('}');
                        i = close;
                        check(total + last, subject);
                        continue;
                    }
                    break;
                default:
                    break;
            }
            out.append(regex, start, Math.min(i + 1, n));
            if (isAtom) {
                total += last;
                last = atom;
            }
            check(total + last, subject);
        }
        while (depth > 0) { // unbalanced: RE2 refuses it when compiling; finish the estimate
            total = totals[depth] + lasts[depth] + total + last + 1;
            last = 0;
            depth--;
        }
        check(total + last, subject);
        return out.toString();
    }

    private static void check(long size, String subject) {
        if (size > MAX_PROGRAM_SIZE) {
            throw new IllegalArgumentException(subject + " is too large a regular expression"
                    + " (it would compile to more than " + MAX_PROGRAM_SIZE
                    + " instructions; nested counted repetitions multiply)");
        }
    }

    private static long saturatingMultiply(long a, long b) {
        long r = a * b;
        return a != 0 && (r / a != b || r < 0) ? Long.MAX_VALUE / 4 : r;
    }

    /** Whether {@code (?} at {@code from} only sets flags, as in {@code (?i)}, rather than opening a group. */
    private static boolean isFlagsOnly(String regex, int from) {
        for (int i = from; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == ')') {
                return true;
            }
            if (!Character.isLetter(c) && c != '-') {
                return false;
            }
        }
        return false;
    }

    /** The index of the {@code ]} closing the class that opens at {@code open}. */
    private static int endOfClass(String regex, int open) {
        int i = open + 1;
        if (i < regex.length() && regex.charAt(i) == '^') {
            i++;
        }
        if (i < regex.length() && regex.charAt(i) == ']') {
            i++; // a leading ] is literal
        }
        for (; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '\\') {
                i++;
            } else if (c == '[' && i + 1 < regex.length() && regex.charAt(i + 1) == ':') {
                int close = regex.indexOf(":]", i + 2);
                if (close >= 0) {
                    i = close + 1;
                }
            } else if (c == ']') {
                return i;
            }
        }
        return regex.length() - 1;
    }

    @Override
    public String toString() {
        return source;
    }
}
