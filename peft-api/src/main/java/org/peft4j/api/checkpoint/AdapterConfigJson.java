package org.peft4j.api.checkpoint;

import com.fasterxml.jackson.core.ErrorReportConfiguration;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.ConfigFields;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.internal.Excerpt;

/**
 * Reads and writes {@code adapter_config.json} with Hugging Face PEFT's key names, so that configs
 * move between peft4j and Python unchanged. The common keys are handled here; each method's own keys
 * by its {@link org.peft4j.api.PeftMethod}, chosen by {@code peft_type} from {@link PeftMethods}.
 *
 * <p>Reading is strict about what matters and lenient about what does not: a missing required key
 * or a value of the wrong type is an error naming the key; a key that Hugging Face PEFT knows but
 * peft4j does not implement is accepted while it holds its neutral value (null, false, empty) and
 * an error when it asks for the feature; any other key is ignored with a warning, so that configs
 * written by newer PEFT versions still load. A number that does not fit its Java type (an
 * integer beyond 32 bits, a float that overflows to infinity) is an error naming the key, and
 * messages quote the file's content only as short, escaped excerpts ({@link Excerpt}).
 */
public final class AdapterConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .errorReportConfiguration(ErrorReportConfiguration.builder()
                    .maxErrorTokenLength(Excerpt.MAX_CHARS)
                    .maxRawContentLength(0)
                    .build())
            .build())
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private AdapterConfigJson() {}

    /**
     * Parses the bytes of an {@code adapter_config.json}, which must be UTF-8.
     *
     * @param source where the bytes came from, for messages (a file path)
     * @throws AdapterFormatException as {@link #parse(String, String)} does, or if the bytes are not UTF-8
     */
    public static PeftConfig parse(byte[] utf8, String source) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(utf8);
        String text;
        try {
            text = decoder.decode(in).toString();
        } catch (CharacterCodingException e) {
            throw new AdapterFormatException(source + ": not UTF-8 text (an invalid byte sequence at byte "
                    + in.position() + ")", e);
        }
        return parse(text, source);
    }

    /**
     * Parses the text of an {@code adapter_config.json}.
     *
     * @param json the file's text
     * @param source where the text came from, for messages (a file path)
     * @throws AdapterFormatException if the JSON is malformed, a required key is missing, or a
     *     value has the wrong type or asks for an unsupported feature
     */
    public static PeftConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new AdapterFormatException(source + ": not valid JSON"
                    + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")") + ": "
                    + Excerpt.quote(e.getOriginalMessage(), 3 * Excerpt.MAX_CHARS), e);
        }
        if (root == null || !root.isObject()) {
            throw new AdapterFormatException(source + ": expected a JSON object");
        }
        requireNoLoneSurrogates(root, source);
        ConfigFields f = new ConfigFields((ObjectNode) root, source);
        String peftType = f.requiredString("peft_type");
        PeftConfig config;
        try {
            config = PeftMethods.forTypeName(peftType).fromJson(f);
        } catch (IllegalArgumentException e) {
            throw new AdapterFormatException(source + ": " + e.getMessage(), e);
        }
        f.checkRemaining();
        return config;
    }

    /** Refuses keys and strings holding a lone surrogate, which only a {@code \\u} escape can write. */
    private static void requireNoLoneSurrogates(JsonNode node, String source) {
        if (node.isTextual()) {
            requireNoLoneSurrogate(node.asText(), source);
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            requireNoLoneSurrogate(e.getKey(), source);
            requireNoLoneSurrogates(e.getValue(), source);
        }
        if (node.isArray()) {
            node.forEach(element -> requireNoLoneSurrogates(element, source));
        }
    }

    private static void requireNoLoneSurrogate(String s, String source) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new AdapterFormatException(source + ": the string " + Excerpt.quote(s)
                        + " holds a \\u escape that is a lone surrogate, not a character");
            }
        }
    }

    /** Returns the text of an {@code adapter_config.json} for {@code config}, keys sorted as PEFT writes them. */
    public static String toJson(PeftConfig config) {
        Map<String, Object> out = new TreeMap<>();
        out.put("peft_type", config.peftType().name());
        out.put("task_type", config.taskType() == null ? null : config.taskType().name());
        out.put("base_model_name_or_path", config.baseModelNameOrPath());
        out.put("revision", null);
        out.put("inference_mode", config.inferenceMode());
        out.put("modules_to_save", config.modulesToSave().isEmpty() ? null : config.modulesToSave());
        PeftMethods.forConfig(config).toJson(config, out);
        try {
            return JSON.writeValueAsString(out) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + config, e);
        }
    }
}
