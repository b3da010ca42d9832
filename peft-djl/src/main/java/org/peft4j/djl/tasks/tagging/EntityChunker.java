package org.peft4j.djl.tasks.tagging;

import java.util.ArrayList;
import java.util.List;

/**
 * Finds the entities of a tag sequence as Python's seqeval finds them by default
 * ({@code seqeval/metrics/sequence_labeling.py}, {@code get_entities} with {@code end_of_chunk} and
 * {@code start_of_chunk}, the lenient, non-strict mode that transformers' token-classification
 * example and {@code evaluate}'s seqeval metric use). A tag's first character is its position in
 * the chunk (IOB2, IOB1 and IOBES: {@code B}, {@code I}, {@code E}, {@code S}, {@code O}) and the
 * rest after the first {@code -} its type. A chunk ends after {@code E} or {@code S}, before
 * {@code B}, {@code S} or {@code O} that follow {@code B} or {@code I}, and wherever the type
 * changes; it starts at {@code B} or {@code S}, at {@code I} or {@code E} after {@code O},
 * {@code E} or {@code S}, and wherever the type changes. So {@code O I-PER} is an entity, as is
 * {@code B-PER I-LOC} two.
 */
public final class EntityChunker {
    private EntityChunker() {}

    /** Returns the entities of one sentence's tags, in order. */
    public static List<Entity> entities(List<String> tags) {
        List<Entity> chunks = new ArrayList<>();
        char previousTag = 'O';
        String previousType = "";
        int begin = 0;
        for (int i = 0; i <= tags.size(); i++) {
            String chunk = i < tags.size() ? tags.get(i) : "O"; // seqeval appends an O to close the last chunk
            char tag = chunk.isEmpty() ? 'O' : chunk.charAt(0);
            String type = type(chunk);
            if (endOfChunk(previousTag, tag, previousType, type)) {
                chunks.add(new Entity(previousType, begin, i - 1));
            }
            if (startOfChunk(previousTag, tag, previousType, type)) {
                begin = i;
            }
            previousTag = tag;
            previousType = type;
        }
        return chunks;
    }

    /** seqeval: {@code chunk[1:].split('-', maxsplit=1)[-1] or '_'}. */
    private static String type(String chunk) {
        String rest = chunk.isEmpty() ? "" : chunk.substring(1);
        int dash = rest.indexOf('-');
        String type = dash < 0 ? rest : rest.substring(dash + 1);
        return type.isEmpty() ? "_" : type;
    }

    private static boolean endOfChunk(char previousTag, char tag, String previousType, String type) {
        if (previousTag == 'E' || previousTag == 'S') {
            return true;
        }
        if ((previousTag == 'B' || previousTag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) {
            return true;
        }
        return previousTag != 'O' && previousTag != '.' && !previousType.equals(type);
    }

    private static boolean startOfChunk(char previousTag, char tag, String previousType, String type) {
        if (tag == 'B' || tag == 'S') {
            return true;
        }
        if ((previousTag == 'E' || previousTag == 'S' || previousTag == 'O') && (tag == 'E' || tag == 'I')) {
            return true;
        }
        return tag != 'O' && tag != '.' && !previousType.equals(type);
    }
}
