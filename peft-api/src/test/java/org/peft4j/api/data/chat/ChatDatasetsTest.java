package org.peft4j.api.data.chat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Alpaca and sharegpt rows become the conversations LLaMA-Factory's converters make; malformed rows are named. */
class ChatDatasetsTest {
    @Test
    void alpacaRowsJoinInstructionAndInputAndKeepHistoryAndSystem(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("a.json");
        Files.writeString(file, "[\n {\"instruction\": \"Add the numbers.\", \"input\": \"2 and 3\", \"output\": \"5\"},\n"
                + " {\"instruction\": \"And now?\", \"output\": \"7\", \"system\": \"Be brief.\","
                + " \"history\": [[\"Add 1 and 1.\", \"2\"]]}\n]");
        List<Conversation> rows = ChatDatasets.read(file, ChatDatasets.Format.ALPACA);
        assertThat(rows.get(0)).isEqualTo(new Conversation("", List.of(ChatMessage.user("Add the numbers.\n2 and 3"),
                ChatMessage.assistant("5"))));
        assertThat(rows.get(1)).isEqualTo(new Conversation("Be brief.", List.of(ChatMessage.user("Add 1 and 1."),
                ChatMessage.assistant("2"), ChatMessage.user("And now?"), ChatMessage.assistant("7"))));
        assertThat(rows.get(1).withSystem().get(0).role()).isEqualTo(ChatMessage.Role.SYSTEM);
    }

    @Test
    void sharegptLinesReadBothTagStyles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s.jsonl");
        Files.writeString(file, "{\"conversations\": [{\"from\": \"system\", \"value\": \"S\"}, {\"from\": \"human\", \"value\": \"Q\"},"
                + " {\"from\": \"gpt\", \"value\": \"A\"}]}\n\n"
                + "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}]}\n");
        assertThat(ChatDatasets.read(file, ChatDatasets.Format.SHAREGPT)).containsExactly(
                new Conversation("S", List.of(ChatMessage.user("Q"), ChatMessage.assistant("A"))),
                new Conversation("", List.of(ChatMessage.user("q"), ChatMessage.assistant("a"))));
    }

    @Test
    void malformedRowsAreRefusedWithTheirPlace(@TempDir Path dir) throws Exception {
        Path lines = dir.resolve("bad.jsonl");
        Files.writeString(lines, "{\"instruction\": \"x\", \"output\": \"y\"}\n{\"instruction\": 3, \"output\": \"y\"}\n");
        assertThatThrownBy(() -> ChatDatasets.read(lines, ChatDatasets.Format.ALPACA))
                .hasMessage(lines + ": line 2: \"instruction\" must be a string, found 3");
        Files.writeString(lines, "{\"instruction\": \"x\"\n");
        assertThatThrownBy(() -> ChatDatasets.read(lines, ChatDatasets.Format.ALPACA))
                .hasMessageStartingWith(lines + ": line 1: not valid JSON");
        Path array = dir.resolve("bad.json");
        Files.writeString(array, "[\n{\"conversations\": [{\"from\": \"human\", \"value\": \"Q\"}]},\n"
                + "{\"conversations\": [{\"from\": \"gpt\", \"value\": \"A\"}, {\"from\": \"human\", \"value\": \"Q\"}]}\n]");
        assertThatThrownBy(() -> ChatDatasets.read(array, ChatDatasets.Format.SHAREGPT))
                .hasMessage(array + ": row 1 (line 3): message 0 is from the assistant; expected the user"
                        + " (user and assistant alternate, the user first)");
        Files.writeString(array, "[{\"conversations\": [{\"from\": \"function_call\", \"value\": \"f()\"}]}]");
        assertThatThrownBy(() -> ChatDatasets.read(array, ChatDatasets.Format.SHAREGPT))
                .hasMessageContaining("row 0 (line 1): turn 0 has from \"function_call\"; known: human, gpt, system");
        assertThatThrownBy(() -> ChatDatasets.Format.of("openai")).hasMessage("unknown dataset format \"openai\"; known: alpaca, sharegpt");
    }

    @Test
    void aRowWithoutAnAnswerIsReadAndSaysSo(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("p.jsonl");
        Files.writeString(file, "{\"instruction\": \"Only a question\"}\n");
        Conversation c = ChatDatasets.read(file, ChatDatasets.Format.ALPACA).get(0);
        assertThat(c.hasResponse()).isFalse();
        assertThat(c.messages()).containsExactly(ChatMessage.user("Only a question"));
    }
}
