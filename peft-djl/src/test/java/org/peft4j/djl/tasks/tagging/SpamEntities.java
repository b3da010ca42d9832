package org.peft4j.djl.tasks.tagging;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.api.data.TaggedSentence;

/**
 * A small tagged data set made from real text: the words of the SpamAssassin mails in
 * data/spamassassin.tsv ({@code subject | body}, split on whitespace, wrapping brackets, quotes and
 * trailing punctuation stripped), tagged by rules: {@code EMAIL} (an address), {@code URL}
 * ({@code http://}, {@code https://} or {@code www.}), {@code MONEY} (a {@code $} amount, with
 * {@code I-MONEY} on a following million/billion/thousand) and {@code NUM} (any other number, such as
 * 2002, 10:54:46 or 3.5); every other word is {@code O}.
 */
final class SpamEntities {
    private static final Pattern EMAIL = Pattern.compile("[\\w.+-]+@[\\w-]+(\\.[\\w-]+)+");
    private static final Pattern URL = Pattern.compile("(?i)(https?://|www\\.)\\S+");
    private static final Pattern MONEY = Pattern.compile("\\$\\d[\\d,]*(\\.\\d+)?");
    private static final Pattern NUM = Pattern.compile("\\d+([,.:]\\d+)*");
    private static final Set<String> MAGNITUDES = Set.of("thousand", "million", "billion");

    private SpamEntities() {}

    /**
     * One window of {@code width} words from each of the first {@code count} rows of {@code split}
     * that have an entity: the window starts a quarter of its width before the row's first entity.
     */
    static List<TaggedSentence> read(String split, int count, int width) throws IOException {
        List<TaggedSentence> out = new ArrayList<>();
        for (LabeledText row : LabeledTexts.split(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")), split)) {
            TaggedSentence sentence = tag(words(row.text()));
            int first = sentence == null ? -1 : firstEntity(sentence.tags());
            if (first >= 0) {
                int from = Math.max(0, Math.min(first - width / 4, sentence.size() - width));
                int to = Math.min(sentence.size(), from + width);
                // a window never starts inside a money amount: I-MONEY follows its B-MONEY
                from = sentence.tags().get(from).startsWith("I-") ? from + 1 : from;
                out.add(new TaggedSentence(sentence.tokens().subList(from, to), sentence.tags().subList(from, to)));
                if (out.size() == count) {
                    break;
                }
            }
        }
        return out;
    }

    private static int firstEntity(List<String> tags) {
        for (int i = 0; i < tags.size(); i++) {
            if (!tags.get(i).equals("O")) {
                return i;
            }
        }
        return -1;
    }

    private static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        for (String raw : text.split("\\s+")) {
            String word = raw.replaceAll("^[<(\\[\"']+", "").replaceAll("[>)\\]\"',.;:!?]+$", "");
            if (!word.isEmpty()) {
                out.add(word);
            }
        }
        return out;
    }

    private static TaggedSentence tag(List<String> words) {
        if (words.isEmpty()) {
            return null;
        }
        List<String> tags = new ArrayList<>();
        for (int i = 0; i < words.size(); i++) {
            String w = words.get(i);
            if (EMAIL.matcher(w).matches()) {
                tags.add("B-EMAIL");
            } else if (URL.matcher(w).matches()) {
                tags.add("B-URL");
            } else if (MONEY.matcher(w).matches()) {
                tags.add("B-MONEY");
            } else if (i > 0 && tags.get(i - 1).endsWith("-MONEY") && MAGNITUDES.contains(w.toLowerCase(Locale.ROOT))) {
                tags.add("I-MONEY");
            } else if (NUM.matcher(w).matches()) {
                tags.add("B-NUM");
            } else {
                tags.add("O");
            }
        }
        return new TaggedSentence(words, tags);
    }
}
