package org.peft4j.djl.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.chat.ChatMessage;

/**
 * Chat templates rendered by jinjava print what transformers' {@code apply_chat_template} prints:
 * the golden renderings in {@code chat/renderings.json} (made by
 * integration-tests/src/test/python/make_chat_template_golden.py) of six templates, three
 * conversations, with and without the generation prompt, including a template's own
 * {@code raise_exception}.
 */
class ChatTemplateTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyGoldenRenderingIsReproduced() throws Exception {
        JsonNode golden;
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream("/chat/renderings.json")) {
            golden = JSON.readTree(in);
        }
        Map<String, String> tokens = Map.of("bos_token", "<s>", "eos_token", "</s>");
        int checked = 0;
        for (JsonNode c : golden.get("cases")) {
            ChatTemplate template = ChatTemplate.of(golden.at("/templates/" + c.get("template").asText()).asText(), tokens);
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages")) {
                messages.add(new ChatMessage(ChatMessage.Role.valueOf(m.get("role").asText().toUpperCase(java.util.Locale.ROOT)),
                        m.get("content").asText()));
            }
            boolean add = c.get("add_generation_prompt").asBoolean();
            String what = c.get("template").asText() + " on " + messages.size() + " messages, add_generation_prompt " + add;
            if (c.has("error")) {
                assertThatThrownBy(() -> template.render(messages, add)).as(what)
                        .hasMessageContaining("the template raised: " + c.get("error").asText());
            } else {
                assertThat(template.render(messages, add)).as(what).isEqualTo(c.get("rendered").asText());
            }
            checked++;
        }
        assertThat(checked).isEqualTo(36);
    }

    @Test
    void aModelDirectoryGivesItsTemplateAndSpecialTokens(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": {\"content\": \"<B>\"},"
                + " \"chat_template\": [{\"name\": \"tool_use\", \"template\": \"x\"},"
                + " {\"name\": \"default\", \"template\": \"{{ bos_token }}{{ messages[0].content }}\\n\"}]}");
        assertThat(ChatTemplate.fromModelDirectory(dir).render(List.of(ChatMessage.user("hi")), false)).isEqualTo("<B>hi");
        Files.writeString(dir.resolve("chat_template.jinja"), "[{{ messages | length }}]");
        assertThat(ChatTemplate.fromModelDirectory(dir).render(List.of(ChatMessage.user("hi")), false)).isEqualTo("[1]");
        Files.delete(dir.resolve("chat_template.jinja"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        assertThatThrownBy(() -> ChatTemplate.fromModelDirectory(dir)).hasMessageContaining("has no chat_template");
    }

    @Test
    void aTemplateThatCannotRenderIsRefusedNotPrintedInPart() {
        // Python's str.upper() has no Java counterpart: jinjava stops, and so does the rendering
        ChatTemplate broken = ChatTemplate.of("start {{ messages[0].content.upper() }} end", Map.of());
        assertThatThrownBy(() -> broken.render(List.of(ChatMessage.user("hi")), false))
                .hasMessageStartingWith("the chat template failed: ").hasMessageContaining("Cannot find method upper");
    }

    @Test
    void strftimeUnderstandsPythonsDirectives() {
        LocalDateTime time = LocalDateTime.of(2026, 3, 7, 15, 4, 9);
        assertThat(TemplateFunctions.strftime(time, "%d %b %Y, %A %H:%M:%S %p %j %%")).isEqualTo(
                "07 Mar 2026, Saturday 15:04:09 PM 066 %");
        assertThatThrownBy(() -> TemplateFunctions.strftime(time, "%Q")).hasMessageContaining("%Q is not supported");
    }
}
