package org.peft4j.api.data.chat;

import java.util.Objects;

/**
 * One message of a conversation, as a chat template receives it ({@code {"role": ..., "content": ...}}).
 *
 * @param role who speaks
 * @param content what is said
 */
public record ChatMessage(Role role, String content) {
    /** Requires a role and a content. */
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(content, "content");
    }

    /** A message of the user. */
    public static ChatMessage user(String content) {
        return new ChatMessage(Role.USER, content);
    }

    /** A message of the assistant. */
    public static ChatMessage assistant(String content) {
        return new ChatMessage(Role.ASSISTANT, content);
    }

    /** Who speaks, with the name chat templates use. */
    public enum Role {
        /** The system prompt: {@code system}. */
        SYSTEM("system"),
        /** The user: {@code user}. */
        USER("user"),
        /** The model: {@code assistant}. */
        ASSISTANT("assistant");

        private final String templateName;

        Role(String templateName) {
            this.templateName = templateName;
        }

        /** The name chat templates compare {@code message['role']} with. */
        public String templateName() {
            return templateName;
        }
    }
}
