package org.peft4j.djl.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import org.peft4j.api.data.chat.ChatMessage;

/**
 * A model's chat template, the Jinja template in its {@code tokenizer_config.json}, rendered with
 * HubSpot's jinjava configured as transformers configures Jinja2
 * ({@code transformers/utils/chat_template_utils.py}, {@code _compile_jinja_template}: blocks
 * trimmed and left-stripped (Jinja2's {@code lstrip_blocks}, applied to the text beforehand, as
 * jinjava's own strips more), the functions {@code raise_exception} and {@code strftime_now}, a
 * {@code tojson} filter that writes as Python's {@code json.dumps}). The template sees
 * {@code messages} (each {@code {"role", "content"}}), {@code add_generation_prompt} and the
 * special tokens of the tokenizer config ({@code bos_token}, {@code eos_token}, ...).
 *
 * <p>Rendering that fails, or a template that raises an exception (many check that user and
 * assistant alternate), is refused with the template's message; partial output is never returned.
 */
public final class ChatTemplate {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> SPECIAL_TOKENS = List.of("bos_token", "eos_token", "unk_token", "pad_token",
            "sep_token", "cls_token", "mask_token");
    private static final Pattern LINE_START_BEFORE_TAG = Pattern.compile("(?m)^[ \\t]+(?=\\{%(?![+])|\\{#)");
    private static final Jinjava ENGINE = engine();

    private final String template;
    private final Map<String, Object> specialTokens;

    private ChatTemplate(String template, Map<String, Object> specialTokens) {
        // Jinja2 drops a template's single trailing newline (keep_trailing_newline=False); jinjava keeps it
        String text = template.endsWith("\n") ? template.substring(0, template.length() - 1) : template;
        // Jinja2's lstrip_blocks removes spaces and tabs only between a line's start and a block or
        // comment tag; jinjava's also removes them before a tag in mid-line, so it is done here instead
        this.template = LINE_START_BEFORE_TAG.matcher(text).replaceAll("");
        this.specialTokens = Map.copyOf(specialTokens);
    }

    /**
     * A template given as text, with the special tokens it may print.
     *
     * @param specialTokens such as {@code bos_token -> "<s>"}
     */
    public static ChatTemplate of(String template, Map<String, String> specialTokens) {
        return new ChatTemplate(Objects.requireNonNull(template, "template"), new HashMap<>(specialTokens));
    }

    /**
     * Reads {@code chat_template} and the special tokens from a model directory's
     * {@code tokenizer_config.json}; where the template is a list of named ones, the one named
     * {@code default}. A separate {@code chat_template.jinja} file, as transformers 4.43+ saves
     * it, takes precedence.
     *
     * @throws IllegalArgumentException if the directory has no chat template
     */
    public static ChatTemplate fromModelDirectory(Path modelDir) throws IOException {
        Path configFile = modelDir.resolve("tokenizer_config.json");
        if (!Files.exists(configFile)) {
            throw new IllegalArgumentException(modelDir + " has no tokenizer_config.json, so no chat template;"
                    + " name a template instead");
        }
        JsonNode config = JSON.readTree(Files.readString(configFile));
        Map<String, Object> tokens = specialTokens(config);
        Path jinjaFile = modelDir.resolve("chat_template.jinja");
        if (Files.exists(jinjaFile)) {
            return new ChatTemplate(Files.readString(jinjaFile), tokens);
        }
        JsonNode template = config.path("chat_template");
        if (template.isTextual()) {
            return new ChatTemplate(template.asText(), tokens);
        }
        if (template.isArray()) {
            for (JsonNode named : template) {
                if (named.path("name").asText().equals("default") && named.path("template").isTextual()) {
                    return new ChatTemplate(named.get("template").asText(), tokens);
                }
            }
        }
        throw new IllegalArgumentException(configFile + " has no chat_template; name a template instead");
    }

    /**
     * One of LLaMA-Factory's named templates, with the special tokens of {@code modelDir}'s
     * {@code tokenizer_config.json} (none if it has no such file).
     *
     * @throws IOException if the tokenizer config cannot be read
     */
    public static ChatTemplate named(NamedTemplate template, Path modelDir) throws IOException {
        Path configFile = modelDir.resolve("tokenizer_config.json");
        Map<String, Object> tokens = Files.exists(configFile)
                ? specialTokens(JSON.readTree(Files.readString(configFile))) : Map.of();
        return new ChatTemplate(template.jinja(), tokens);
    }

    /** The special tokens a tokenizer config names, as plain strings or {@code {"content": ...}} objects. */
    private static Map<String, Object> specialTokens(JsonNode config) {
        Map<String, Object> tokens = new HashMap<>();
        for (String key : SPECIAL_TOKENS) {
            JsonNode v = config.path(key);
            String text = v.isTextual() ? v.asText() : v.path("content").isTextual() ? v.path("content").asText() : null;
            if (text != null) {
                tokens.put(key, text);
            }
        }
        return tokens;
    }

    /** Returns the template's text. */
    public String template() {
        return template;
    }

    /**
     * Renders {@code messages}, and with {@code addGenerationPrompt} the opening of the assistant's
     * answer, as transformers' {@code apply_chat_template(messages, tokenize=False, ...)} does.
     *
     * @throws IllegalArgumentException with the template's error (or the message it raised)
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        List<Map<String, Object>> rendered = new ArrayList<>();
        for (ChatMessage m : messages) {
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("role", m.role().templateName());
            message.put("content", m.content());
            rendered.add(message);
        }
        Map<String, Object> context = new HashMap<>(specialTokens);
        context.put("messages", rendered);
        context.put("add_generation_prompt", addGenerationPrompt);
        RenderResult result = ENGINE.renderForResult(template, context);
        List<String> fatal = new ArrayList<>();
        for (TemplateError e : result.getErrors()) {
            if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
                fatal.add(TemplateFunctions.raisedMessage(e) + (e.getLineno() > 0 ? " (template line " + e.getLineno() + ")" : ""));
            }
        }
        if (!fatal.isEmpty()) {
            throw new IllegalArgumentException("the chat template failed: " + String.join("; ", fatal));
        }
        return result.getOutput();
    }

    private static Jinjava engine() {
        LegacyOverrides overrides = LegacyOverrides.newBuilder()
                .withUseTrimmingForNotesAndExpressions(true)
                .withIterateOverMapKeys(true)
                .withUsePyishObjectMapper(true)
                .withParseWhitespaceControlStrictly(true)
                .withKeepNullableLoopValues(true)
                .withEvaluateMapKeys(true)
                .withAllowAdjacentTextNodes(true)
                .build();
        Jinjava jinjava = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true)
                .withLegacyOverrides(overrides).build());
        jinjava.registerFunction(new ELFunctionDefinition("", "raise_exception", TemplateFunctions.class,
                "raiseException", String.class));
        jinjava.registerFunction(new ELFunctionDefinition("", "strftime_now", TemplateFunctions.class,
                "strftimeNow", String.class));
        jinjava.registerFilter(new TemplateFunctions.ToJson());
        return jinjava;
    }
}
