package org.peft4j.djl.serving;

import ai.djl.translate.ArgumentsUtil;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.peft4j.api.data.chat.ChatMessage;
import org.peft4j.djl.chat.ChatTemplate;
import org.peft4j.djl.chat.NamedTemplate;
import org.peft4j.djl.generation.GenerationTokenizer;

/**
 * Prompts served as chat: each prompt is the user's message, after an optional system prompt,
 * rendered with a chat template and the assistant's opening (transformers'
 * {@code apply_chat_template(..., add_generation_prompt=True)}), then encoded without the
 * tokenizer's own special tokens, since the template writes them ({@code tokenize=True} encodes
 * with {@code add_special_tokens=False}).
 *
 * @param template the model's own template, or one of LLaMA-Factory's
 * @param stopWords the named template's stop words, which end an answer like end-of-sequence tokens
 * @param system the system prompt, or null for none
 */
record ChatPrompts(ChatTemplate template, List<String> stopWords, String system) {
    /**
     * The chat settings the arguments ask for ({@value TextGenerationServing#TEMPLATE},
     * {@value TextGenerationServing#APPLY_CHAT_TEMPLATE}, {@value TextGenerationServing#SYSTEM}),
     * with the template of {@code modelDir}; null where they ask for none.
     *
     * @throws IllegalArgumentException if the template name is unknown, or the model has no chat
     *     template of its own
     */
    static ChatPrompts of(Path modelDir, Map<String, ?> arguments) throws IOException {
        String system = ArgumentsUtil.stringValue(arguments, TextGenerationServing.SYSTEM);
        String name = ArgumentsUtil.stringValue(arguments, TextGenerationServing.TEMPLATE);
        if (name != null) {
            NamedTemplate named = NamedTemplate.of(name);
            return new ChatPrompts(ChatTemplate.named(named, modelDir), named.stopWords(), system);
        }
        if (arguments.containsKey(TextGenerationServing.APPLY_CHAT_TEMPLATE)
                && TextGenerationServing.bool(arguments, TextGenerationServing.APPLY_CHAT_TEMPLATE)) {
            return new ChatPrompts(ChatTemplate.fromModelDirectory(modelDir), List.of(), system);
        }
        if (system != null) {
            throw new IllegalArgumentException("the argument \"" + TextGenerationServing.SYSTEM + "\" needs a chat"
                    + " template: add \"" + TextGenerationServing.APPLY_CHAT_TEMPLATE + "\" = true or a \""
                    + TextGenerationServing.TEMPLATE + "\"");
        }
        return null;
    }

    /** The ids of the rendered conversation. */
    long[] encode(GenerationTokenizer tokenizer, String prompt) {
        List<ChatMessage> messages = new ArrayList<>();
        if (system != null) {
            messages.add(new ChatMessage(ChatMessage.Role.SYSTEM, system));
        }
        messages.add(ChatMessage.user(prompt));
        return tokenizer.encodeWithoutSpecialTokens(template.render(messages, true));
    }

    /** The ids of the stop words that the tokenizer reads as one token of their own (others cannot end an answer). */
    List<Long> stopTokenIds(GenerationTokenizer tokenizer) {
        return tokenizer.tokenIds(stopWords);
    }
}
