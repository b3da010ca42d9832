package org.peft4j.api.data.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * A conversation for supervised fine-tuning: an optional system prompt, then turns of a user
 * message followed by the assistant's answer, as LLaMA-Factory's converters turn alpaca and
 * sharegpt rows into ({@code data/converter.py}). Training teaches the assistant's messages.
 *
 * @param system the system prompt, or an empty string for none
 * @param messages user and assistant messages, alternating, the first from the user; for
 *     training the last is the assistant's
 */
public record Conversation(String system, List<ChatMessage> messages) {
    /**
     * Copies the messages and checks that they alternate between the user and the assistant.
     *
     * @throws IllegalArgumentException naming the first message out of turn
     */
    public Conversation {
        system = system == null ? "" : system;
        messages = List.copyOf(messages);
        if (messages.isEmpty()) {
            throw new IllegalArgumentException("a conversation needs at least one message");
        }
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage.Role expected = i % 2 == 0 ? ChatMessage.Role.USER : ChatMessage.Role.ASSISTANT;
            if (messages.get(i).role() != expected) {
                throw new IllegalArgumentException("message " + i + " is from the " + messages.get(i).role().templateName()
                        + "; expected the " + expected.templateName() + " (user and assistant alternate, the user first)");
            }
        }
    }

    /** Whether the last message is the assistant's, so that the conversation has an answer to learn. */
    public boolean hasResponse() {
        return messages.get(messages.size() - 1).role() == ChatMessage.Role.ASSISTANT;
    }

    /** Returns the messages a chat template renders: the system prompt (if any) first. */
    public List<ChatMessage> withSystem() {
        List<ChatMessage> out = new ArrayList<>();
        if (!system.isEmpty()) {
            out.add(new ChatMessage(ChatMessage.Role.SYSTEM, system));
        }
        out.addAll(messages);
        return out;
    }

    /** Returns the conversation up to, not including, message {@code end}. */
    public Conversation prefix(int end) {
        return new Conversation(system, messages.subList(0, end));
    }
}
