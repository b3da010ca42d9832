package org.peft4j.api.data.chat;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads supervised fine-tuning data as LLaMA-Factory does ({@code data/converter.py}), from a JSON
 * array or a JSON Lines file:
 * <ul>
 *   <li>{@link Format#ALPACA}: {@code instruction}, optional {@code input} (joined to the
 *       instruction with a newline), {@code output}, optional {@code system} and {@code history}
 *       (earlier [prompt, response] pairs);</li>
 *   <li>{@link Format#SHAREGPT}: {@code conversations} (or {@code messages}) of {@code from} /
 *       {@code value} pairs tagged {@code human}, {@code gpt} and {@code system} (or OpenAI's
 *       {@code role} / {@code content} with {@code user}, {@code assistant}, {@code system}).</li>
 * </ul>
 * A malformed row is refused with the file, the row and line, and what is wrong; none is dropped.
 */
public final class ChatDatasets {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, ChatMessage.Role> ROLES = Map.of("human", ChatMessage.Role.USER, "user",
            ChatMessage.Role.USER, "gpt", ChatMessage.Role.ASSISTANT, "assistant", ChatMessage.Role.ASSISTANT,
            "system", ChatMessage.Role.SYSTEM);

    private ChatDatasets() {}

    /** The two dataset formats, as LLaMA-Factory's {@code formatting} names them. */
    public enum Format {
        /** Stanford Alpaca's instruction / input / output rows. */
        ALPACA,
        /** ShareGPT's lists of conversation turns. */
        SHAREGPT;

        /**
         * The format named {@code name} ({@code alpaca} or {@code sharegpt}, any case).
         *
         * @throws IllegalArgumentException naming the known formats
         */
        public static Format of(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown dataset format \"" + name + "\"; known: alpaca, sharegpt", e);
            }
        }
    }

    /**
     * Reads every row of {@code file}: a JSON array of objects, or one object per line.
     *
     * @throws IllegalArgumentException naming the file, the row, its line and the problem
     */
    public static List<Conversation> read(Path file, Format format) throws IOException {
        List<Conversation> out = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            in.mark(1 << 16);
            int first = firstNonBlank(in);
            in.reset();
            if (first == '[') {
                readArray(in, file, format, out);
            } else {
                readLines(in, file, format, out);
            }
        }
        return out;
    }

    private static int firstNonBlank(Reader in) throws IOException {
        int c;
        do {
            c = in.read();
        } while (c != -1 && Character.isWhitespace(c));
        return c;
    }

    private static void readArray(Reader in, Path file, Format format, List<Conversation> out) throws IOException {
        try (JsonParser parser = JSON.createParser(in)) {
            parser.nextToken();
            int row = 0;
            JsonToken token;
            while ((token = parser.nextToken()) != JsonToken.END_ARRAY) {
                long line = parser.currentLocation().getLineNr();
                if (token != JsonToken.START_OBJECT) {
                    throw new IllegalArgumentException(file + ": row " + row + " (line " + line + ") is not a JSON object");
                }
                out.add(convert(JSON.readTree(parser), format, file + ": row " + row + " (line " + line + ")"));
                row++;
            }
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(file + ": not valid JSON at line " + e.getLocation().getLineNr() + ": "
                    + e.getOriginalMessage(), e);
        }
    }

    private static void readLines(BufferedReader in, Path file, Format format, List<Conversation> out) throws IOException {
        String text;
        int line = 0;
        while ((text = in.readLine()) != null) {
            line++;
            if (text.isBlank()) {
                continue;
            }
            String where = file + ": line " + line;
            JsonNode node;
            try {
                node = JSON.readTree(text);
            } catch (JsonParseException e) {
                throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage(), e);
            }
            if (!node.isObject()) {
                throw new IllegalArgumentException(where + ": not a JSON object");
            }
            out.add(convert(node, format, where));
        }
    }

    /**
     * Converts one row.
     *
     * @param where the row's place, for messages
     */
    public static Conversation convert(JsonNode row, Format format, String where) {
        try {
            return format == Format.ALPACA ? alpaca(row) : sharegpt(row);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    private static Conversation alpaca(JsonNode row) {
        List<ChatMessage> messages = new ArrayList<>();
        JsonNode history = row.path("history");
        if (!history.isMissingNode() && !history.isNull()) {
            if (!history.isArray()) {
                throw new IllegalArgumentException("\"history\" must be a list of [prompt, response] pairs");
            }
            for (JsonNode pair : history) {
                if (!pair.isArray() || pair.size() != 2 || !pair.get(0).isTextual() || !pair.get(1).isTextual()) {
                    throw new IllegalArgumentException("\"history\" must be a list of [prompt, response] pairs, found "
                            + pair);
                }
                messages.add(ChatMessage.user(pair.get(0).asText()));
                messages.add(ChatMessage.assistant(pair.get(1).asText()));
            }
        }
        String instruction = text(row, "instruction", true);
        String input = text(row, "input", false);
        messages.add(ChatMessage.user(input.isEmpty() ? instruction : instruction.isEmpty() ? input
                : instruction + "\n" + input));
        if (row.has("output") && !row.get("output").isNull()) {
            messages.add(ChatMessage.assistant(text(row, "output", true)));
        }
        return new Conversation(text(row, "system", false), messages);
    }

    private static Conversation sharegpt(JsonNode row) {
        JsonNode turns = row.has("conversations") ? row.get("conversations") : row.get("messages");
        if (turns == null || !turns.isArray()) {
            throw new IllegalArgumentException("expected a list \"conversations\" (or \"messages\") of turns");
        }
        String system = text(row, "system", false);
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < turns.size(); i++) {
            JsonNode turn = turns.get(i);
            String roleKey = turn.has("from") ? "from" : "role";
            String contentKey = turn.has("value") ? "value" : "content";
            String tag = turn.path(roleKey).asText("");
            ChatMessage.Role role = ROLES.get(tag);
            if (role == null) {
                throw new IllegalArgumentException("turn " + i + " has " + roleKey + " \"" + tag
                        + "\"; known: human, gpt, system (or user, assistant); tools are not supported");
            }
            if (!turn.path(contentKey).isTextual()) {
                throw new IllegalArgumentException("turn " + i + " has no text \"" + contentKey + "\"");
            }
            String content = turn.get(contentKey).asText();
            if (role == ChatMessage.Role.SYSTEM) {
                if (i != 0) {
                    throw new IllegalArgumentException("turn " + i + " is a system prompt; only the first turn may be");
                }
                system = content;
            } else {
                messages.add(new ChatMessage(role, content));
            }
        }
        return new Conversation(system, messages);
    }

    private static String text(JsonNode row, String key, boolean required) {
        JsonNode v = row.get(key);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("missing \"" + key + "\"");
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("\"" + key + "\" must be a string, found " + v);
        }
        return v.asText();
    }
}
