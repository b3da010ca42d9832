package org.peft4j.djl.chat;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * The chat formats LLaMA-Factory names with its {@code template} key, written as Jinja templates
 * that print what its formatters print ({@code data/template.py}, {@code register_template}): for a
 * model without a chat template of its own, or to train in a format other than its own. Each
 * template prints the assistant's opening with every user turn (as LLaMA-Factory's user formatter
 * does), so {@code add_generation_prompt} changes nothing.
 */
public enum NamedTemplate {
    /** Stanford Alpaca's instruction format, with its default system prompt. */
    ALPACA("alpaca", List.of()),
    /** ChatML's {@code <|im_start|>role ... <|im_end|>} turns. */
    CHATML("chatml", List.of("<|im_end|>", "<|im_start|>")),
    /** LLaMA-Factory's default: {@code Human:} and {@code Assistant:} turns. */
    DEFAULT("default", List.of()),
    /** Nothing added: the texts as they are. */
    EMPTY("empty", List.of()),
    /** Llama 3's header-tagged turns. */
    LLAMA3("llama3", List.of("<|eot_id|>", "<|eom_id|>")),
    /** ChatML with Qwen's default system prompt. */
    QWEN("qwen", List.of("<|im_end|>"));

    private final String templateName;
    private final List<String> stopWords;

    NamedTemplate(String templateName, List<String> stopWords) {
        this.templateName = templateName;
        this.stopWords = stopWords;
    }

    /** Returns the name LLaMA-Factory's {@code template} key gives it. */
    public String templateName() {
        return templateName;
    }

    /**
     * Returns the tokens that end an answer besides the model's end-of-sequence tokens (LLaMA-Factory's
     * {@code stop_words}); generation stops at any of them.
     */
    public List<String> stopWords() {
        return stopWords;
    }

    /** Returns the Jinja text of the template. */
    public String jinja() {
        String resource = "templates/" + templateName + ".jinja";
        try (InputStream in = NamedTemplate.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("the peft-djl jar lacks " + resource);
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The template {@code name} names, ignoring case.
     *
     * @throws IllegalArgumentException listing the names if none has it
     */
    public static NamedTemplate of(String name) {
        for (NamedTemplate t : values()) {
            if (t.templateName.equalsIgnoreCase(name.strip())) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown template \"" + name + "\"; known: " + String.join(", ",
                Arrays.stream(values()).map(NamedTemplate::templateName).toList()) + " (or leave it out for the"
                + " model's own chat template)");
    }

    @Override
    public String toString() {
        return templateName;
    }
}
