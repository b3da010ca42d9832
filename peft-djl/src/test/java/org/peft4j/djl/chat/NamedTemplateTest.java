package org.peft4j.djl.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.chat.ChatMessage;
import org.peft4j.api.data.chat.Conversation;

/**
 * LLaMA-Factory's named templates print what its formatters print: the expected texts are put
 * together here from the slots of {@code register_template} in LLaMA-Factory's
 * {@code src/llamafactory/data/template.py} (prefix, system, user and assistant slots, default system),
 * turn by turn as {@code Template._encode} joins them, not from the Jinja files.
 */
class NamedTemplateTest {
    /** One template's slots: {@code %s} is the content; {@code <eos>} and {@code <bos>} stand for the tokens. */
    private record Slots(String prefix, String system, String user, String assistant, String defaultSystem) {
        String print(Conversation c) {
            StringBuilder sb = new StringBuilder(prefix);
            String system = c.system().isEmpty() ? defaultSystem : c.system();
            if (!system.isEmpty()) {
                sb.append(this.system.formatted(system));
            }
            for (ChatMessage m : c.messages()) {
                sb.append((m.role() == ChatMessage.Role.USER ? user : assistant).formatted(m.content()));
            }
            return sb.toString().replace("<eos>", "</s>").replace("<bos>", "<s>");
        }
    }

    private static final Conversation WITH_SYSTEM = new Conversation("Be brief.", List.of(ChatMessage.user("Hi there"),
            ChatMessage.assistant("Hello."), ChatMessage.user("Capital of France?"), ChatMessage.assistant("Paris.")));
    private static final Conversation WITHOUT_SYSTEM = new Conversation("", WITH_SYSTEM.messages());

    private static void assertPrints(NamedTemplate name, Slots slots, Path dir) throws Exception {
        ChatTemplate template = ChatTemplate.named(name, dir);
        for (Conversation c : List.of(WITH_SYSTEM, WITHOUT_SYSTEM)) {
            assertThat(template.render(c.withSystem(), false)).as("%s, system \"%s\"", name, c.system())
                    .isEqualTo(slots.print(c));
            // the prompt of the last turn: the conversation up to its last user message (the assistant's opening included)
            Conversation prompt = c.prefix(c.messages().size() - 1);
            assertThat(template.render(prompt.withSystem(), true)).isEqualTo(slots.print(prompt));
        }
    }

    @Test
    void eachTemplatePrintsLlamaFactorysSlots(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"}}");
        assertPrints(NamedTemplate.ALPACA, new Slots("", "%s", "### Instruction:\n%s\n\n### Response:\n", "%s<eos>\n\n",
                "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n"),
                dir);
        assertPrints(NamedTemplate.DEFAULT, new Slots("", "System: %s<eos>\n", "Human: %s<eos>\nAssistant:", "%s<eos>\n", ""),
                dir);
        assertPrints(NamedTemplate.EMPTY, new Slots("", "%s", "%s", "%s", ""), dir);
        assertPrints(NamedTemplate.CHATML, new Slots("", "<|im_start|>system\n%s<|im_end|>\n",
                "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n", "%s<|im_end|>\n", ""), dir);
        assertPrints(NamedTemplate.QWEN, new Slots("", "<|im_start|>system\n%s<|im_end|>\n",
                "<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n", "%s<|im_end|>\n",
                "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."), dir);
        assertPrints(NamedTemplate.LLAMA3, new Slots("<bos>", "<|start_header_id|>system<|end_header_id|>\n\n%s<|eot_id|>",
                "<|start_header_id|>user<|end_header_id|>\n\n%s<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
                "%s<|eot_id|>", ""), dir);
    }

    @Test
    void namesAreLlamaFactorysAndAnUnknownOneListsThem() {
        List<String> names = new ArrayList<>();
        for (NamedTemplate t : NamedTemplate.values()) {
            names.add(t.templateName());
            assertThat(NamedTemplate.of(t.templateName().toUpperCase(java.util.Locale.ROOT))).isSameAs(t);
        }
        assertThat(names).containsExactly("alpaca", "chatml", "default", "empty", "llama3", "qwen");
        assertThat(NamedTemplate.QWEN.stopWords()).containsExactly("<|im_end|>");
        assertThatThrownBy(() -> NamedTemplate.of("vicuna")).hasMessage("unknown template \"vicuna\"; known: alpaca, chatml,"
                + " default, empty, llama3, qwen (or leave it out for the model's own chat template)");
    }

    @Test
    void withoutATokenizerConfigTheTokensAreEmpty(@TempDir Path dir) throws Exception {
        assertThat(ChatTemplate.named(NamedTemplate.DEFAULT, dir).render(List.of(ChatMessage.user("hi")), true))
                .isEqualTo("Human: hi\nAssistant:");
    }
}
