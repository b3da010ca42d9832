package org.peft4j.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * A {@code peft4j train} config file, read and checked: YAML bound by Jackson to
 * {@link TrainArguments}. The file must be UTF-8 text holding one mapping; a key given twice, an
 * unknown key (with the closest known one suggested), a value of the wrong type, a whole number
 * beyond 32 bits, a value out of range, a dataset that does not exist and an output directory that
 * is the working directory or a root all fail with one message that names the file, the line and
 * the key. Whole numbers may be written as 3 or 3.0, never as 1.5.
 */
final class ConfigFile {
    private static final ObjectMapper YAML = new ObjectMapper(YAMLFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .registerModule(new SimpleModule("whole-numbers").addDeserializer(Integer.class, new WholeNumbers()));

    private final Path file;
    /** The line each top-level key stands on, and the text of its value as written. */
    private final Map<String, Integer> lines;
    private final Map<String, String> written;
    private final TrainArguments arguments;

    private ConfigFile(Path file, Map<String, Integer> lines, Map<String, String> written, TrainArguments arguments) {
        this.file = file;
        this.lines = lines;
        this.written = written;
        this.arguments = arguments;
    }

    /** The settings the file holds, defaults filled in. */
    TrainArguments arguments() {
        return arguments;
    }

    /**
     * Reads and checks a config file; the dataset must exist.
     *
     * @throws IllegalArgumentException naming the file, the line and the key of what is wrong
     */
    static ConfigFile read(Path file) throws IOException {
        String text = TextFiles.readUtf8(file, "config file");
        Map<String, Integer> lines = new HashMap<>();
        Map<String, String> written = new HashMap<>();
        try (JsonParser p = YAML.getFactory().createParser(text)) {
            JsonToken first = p.nextToken();
            if (first != JsonToken.START_OBJECT) {
                throw new IllegalArgumentException(file + ": expected a mapping of keys to values, got "
                        + (first == null ? "an empty file" : first == JsonToken.START_ARRAY ? "a list" : "\"" + p.getText()
                        + "\""));
            }
            for (JsonToken t = p.nextToken(); t == JsonToken.FIELD_NAME; t = p.nextToken()) {
                String key = p.currentName();
                lines.put(key, p.currentTokenLocation().getLineNr());
                JsonToken value = p.nextToken();
                written.put(key, value == JsonToken.VALUE_STRING ? "\"" + p.getText() + "\""
                        : value.isScalarValue() ? p.getText() : value == JsonToken.START_ARRAY ? "a list" : "a mapping");
                p.skipChildren();
            }
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ", line " + e.getLocation().getLineNr() + ": not valid YAML for"
                    + " a config: " + e.getOriginalMessage());
        }
        ConfigFile config = new ConfigFile(file, lines, written, null);
        TrainArguments arguments;
        try {
            arguments = YAML.readValue(text, TrainArguments.class);
        } catch (UnrecognizedPropertyException e) {
            String key = e.getPropertyName();
            throw config.error(key, "unknown key \"" + key + "\"; did you mean \"" + TrainArguments.closest(key)
                    + "\"? Known keys: " + String.join(", ", TrainArguments.knownKeys()));
        } catch (JsonMappingException e) {
            if (e.getCause() instanceof TrainArguments.BadValueException bad) {
                throw config.error(bad.key(), bad.getMessage());
            }
            if (e.getPath().isEmpty() || e.getPath().get(0).getFieldName() == null) {
                throw new IllegalArgumentException(file + ": " + e.getOriginalMessage());
            }
            String key = e.getPath().get(0).getFieldName();
            String range = e.getCause() instanceof InputCoercionException
                    ? " between " + Integer.MIN_VALUE + " and " + Integer.MAX_VALUE : "";
            throw config.error(key, key + " must be " + TrainArguments.expected(key) + range + ", got "
                    + written.getOrDefault(key, "a value of another type"));
        }
        config = new ConfigFile(file, lines, written, arguments);
        Path output = arguments.outputDirectory().toAbsolutePath().normalize();
        if (output.getParent() == null || output.equals(Path.of("").toAbsolutePath())) {
            // a run's adapter is saved by replacing its directory as a whole (AtomicDirectory)
            throw config.error("output_dir", "output_dir must be a directory of its own, not "
                    + (output.getParent() == null ? "a root" : "the working directory") + ", got \""
                    + arguments.outputDir() + "\"");
        }
        if (!Files.isRegularFile(arguments.datasetFile())) {
            throw config.error("dataset", "dataset " + arguments.dataset() + " does not exist");
        }
        return config;
    }

    /** An error about {@code key}: the message after the file and, if the file has the key, its line. */
    IllegalArgumentException error(String key, String message) {
        Integer line = lines.get(key);
        return new IllegalArgumentException(file + (line != null ? ", line " + line : "") + ": " + message);
    }

    /**
     * Integers as a config writes them: 3 or 3.0 (LLaMA-Factory's examples write epochs so), but
     * neither 1.5 nor anything beyond 32 bits, which Jackson would otherwise truncate.
     */
    private static final class WholeNumbers extends StdScalarDeserializer<Integer> {
        private static final long serialVersionUID = 1L;

        WholeNumbers() {
            super(Integer.class);
        }

        @Override
        public Integer deserialize(JsonParser p, DeserializationContext context) throws IOException {
            switch (p.currentToken()) {
                case VALUE_NUMBER_INT:
                    return p.getIntValue(); // fails beyond 32 bits
                case VALUE_NUMBER_FLOAT:
                    double value = p.getDoubleValue();
                    if (value != Math.rint(value)) {
                        return (Integer) context.handleWeirdNumberValue(Integer.class, value, "not a whole number");
                    }
                    if (value < Integer.MIN_VALUE || value > Integer.MAX_VALUE) {
                        throw new InputCoercionException(p, "Numeric value (" + p.getText() + ") out of range of int",
                                JsonToken.VALUE_NUMBER_FLOAT, Integer.class);
                    }
                    return (int) value;
                case VALUE_STRING:
                    try {
                        return Integer.valueOf(p.getText().trim());
                    } catch (NumberFormatException e) {
                        return (Integer) context.handleWeirdStringValue(Integer.class, p.getText(), "not a whole number");
                    }
                default:
                    return (Integer) context.handleUnexpectedToken(Integer.class, p);
            }
        }
    }
}
