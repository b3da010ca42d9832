package org.peft4j.api.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import org.peft4j.api.internal.Excerpt;

/**
 * Reads token-classification data ({@link TaggedSentence}s) in the two usual forms:
 * <ul>
 *   <li>CoNLL: one token per line, the token in the first whitespace-separated column and its tag
 *       in the last (the columns between, such as CoNLL-2003's part-of-speech and chunk tags, are
 *       skipped), a blank line between sentences, {@code -DOCSTART-} lines skipped;</li>
 *   <li>JSON Lines: one object per line, {@code {"tokens": ["John", "lives"], "tags": ["B-PER", "O"]}}.</li>
 * </ul>
 * A malformed line fails with the file and the line number.
 */
public final class TaggedSentences {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The marker line between documents in CoNLL-2003 files. */
    private static final String DOCSTART = "-DOCSTART-";

    private TaggedSentences() {}

    /**
     * Reads a file by its extension: {@code .jsonl} or {@code .json} as JSON Lines, {@code .conll},
     * {@code .txt}, {@code .iob}, {@code .bio} or {@code .tsv} as CoNLL.
     *
     * @throws IllegalArgumentException naming the file and line of what is malformed, or the
     *     known extensions
     */
    public static List<TaggedSentence> read(Path file) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".jsonl") || name.endsWith(".json")) {
            return readJsonl(file);
        }
        for (String ext : List.of(".conll", ".txt", ".iob", ".bio", ".tsv")) {
            if (name.endsWith(ext)) {
                return readConll(file);
            }
        }
        throw new IllegalArgumentException(file + ": unknown tagged-data format; expected .jsonl or .json (JSON Lines"
                + " of tokens and tags) or .conll, .txt, .iob, .bio, .tsv (CoNLL: a token and its tag per line)");
    }

    /**
     * Reads a CoNLL file: a token and its tag per line (first and last whitespace-separated
     * column), sentences separated by blank lines, {@code -DOCSTART-} lines skipped.
     *
     * @throws IllegalArgumentException naming the file and line of a line with one column only
     */
    public static List<TaggedSentence> readConll(Path file) throws IOException {
        List<TaggedSentence> out = new ArrayList<>();
        List<String> tokens = new ArrayList<>();
        List<String> tags = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty()) {
                addSentence(out, tokens, tags);
                continue;
            }
            String[] columns = line.split("\\s+");
            if (columns[0].equals(DOCSTART)) {
                addSentence(out, tokens, tags);
                continue;
            }
            if (columns.length < 2) {
                throw new IllegalArgumentException(file + ", line " + (i + 1) + ": expected a token and its tag separated"
                        + " by whitespace, got one column " + Excerpt.quote(line));
            }
            tokens.add(columns[0]);
            tags.add(columns[columns.length - 1]);
        }
        addSentence(out, tokens, tags);
        return out;
    }

    private static void addSentence(List<TaggedSentence> out, List<String> tokens, List<String> tags) {
        if (!tokens.isEmpty()) {
            out.add(new TaggedSentence(tokens, tags));
            tokens.clear();
            tags.clear();
        }
    }

    /**
     * Reads a JSON Lines file of {@code {"tokens": [...], "tags": [...]}} objects; blank lines are skipped.
     *
     * @throws IllegalArgumentException naming the file and line of a line that is not valid JSON, not
     *     such an object, or has as many tokens as tags
     */
    public static List<TaggedSentence> readJsonl(Path file) throws IOException {
        List<TaggedSentence> out = new ArrayList<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).isBlank()) {
                continue;
            }
            String where = file + ", line " + (i + 1);
            JsonNode node;
            try {
                node = JSON.readTree(lines.get(i));
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage());
            }
            if (!node.isObject()) {
                throw new IllegalArgumentException(where + ": expected an object with \"tokens\" and \"tags\", got "
                        + Excerpt.quote(lines.get(i)));
            }
            List<String> tokens = strings(node, "tokens", where);
            List<String> tags = strings(node, "tags", where);
            if (tokens.size() != tags.size()) {
                throw new IllegalArgumentException(where + ": " + tokens.size() + " tokens but " + tags.size()
                        + " tags; each token needs one tag");
            }
            if (tokens.isEmpty()) {
                throw new IllegalArgumentException(where + ": \"tokens\" is empty");
            }
            out.add(new TaggedSentence(tokens, tags));
        }
        return out;
    }

    private static List<String> strings(JsonNode node, String key, String where) {
        JsonNode array = node.get(key);
        if (array == null || !array.isArray()) {
            throw new IllegalArgumentException(where + ": expected \"" + key + "\" to be an array of strings, got "
                    + (array == null ? "no such key" : array.getNodeType().toString().toLowerCase(Locale.ROOT)));
        }
        List<String> out = new ArrayList<>(array.size());
        for (JsonNode item : array) {
            if (!item.isTextual()) {
                throw new IllegalArgumentException(where + ": \"" + key + "\" item " + (out.size() + 1)
                        + " is not a string: " + item);
            }
            out.add(item.asText());
        }
        return out;
    }

    /**
     * Returns the distinct tags of the sentences, sorted, as transformers' token-classification
     * example lists its labels; a tag's index in this list is its class.
     */
    public static List<String> tags(Collection<TaggedSentence> sentences) {
        TreeSet<String> tags = new TreeSet<>();
        sentences.forEach(s -> tags.addAll(s.tags()));
        return List.copyOf(tags);
    }
}
