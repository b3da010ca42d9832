package org.peft4j.djl.tasks.tagging;

/**
 * A chunk of a tagged sentence: the words {@code start} to {@code end} (both included) form one
 * entity of {@code type}, as seqeval's {@code get_entities} returns {@code (type, start, end)}.
 *
 * @param type the entity type, such as {@code PER} (the tag without its {@code B-}/{@code I-} prefix)
 * @param start the index of its first word
 * @param end the index of its last word
 */
public record Entity(String type, int start, int end) {}
