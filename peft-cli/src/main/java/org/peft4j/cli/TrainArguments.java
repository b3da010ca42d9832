package org.peft4j.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The settings of {@code peft4j train}, read from a YAML file with LLaMA-Factory's key names where
 * LLaMA-Factory has the setting. Every key is checked before anything runs: an unknown key fails
 * with the closest known one, a value of the wrong type or out of range names the key and what it
 * must be, and a missing dataset file is reported at once. Relative paths are resolved against the
 * directory the command runs in.
 *
 * @param modelNameOrPath {@code model_name_or_path}: a Hugging Face model directory, an ONNX file
 *     (with {@code tokenizer.json} beside it), or {@value #DEFAULT_MODEL} (the default, built in)
 * @param finetuningType {@code finetuning_type}: lora, prefix, prompt, full or freeze
 * @param loraRank {@code lora_rank}
 * @param loraAlpha {@code lora_alpha} (default 2 x lora_rank, as LLaMA-Factory)
 * @param loraDropout {@code lora_dropout}
 * @param loraTarget {@code lora_target}: module names separated by commas, or {@code all}
 * @param numVirtualTokens {@code num_virtual_tokens} for prefix and prompt
 * @param prefixProjection {@code prefix_projection}: train the prefix through an MLP
 * @param promptTuningInitText {@code prompt_tuning_init_text}: start the prompt from this text's embeddings
 * @param freezeTrainableLayers {@code freeze_trainable_layers}: the last layers that train with {@code freeze}
 * @param dataset {@code dataset}: a .tsv, .csv or .jsonl file with a text and a label column
 * @param textColumn {@code text_column}
 * @param labelColumn {@code label_column}
 * @param splitColumn {@code split_column}: rows marked train, dev (or validation, eval) and test; if
 *     the file has no such column every row trains, less {@code val_size}
 * @param valSize {@code val_size}: the share of the training rows held out as dev data when the file
 *     has no split column
 * @param maxSamples {@code max_samples}: train on a seeded random sample of this many training
 *     rows; 0 for all
 * @param outputDir {@code output_dir}
 * @param numTrainEpochs {@code num_train_epochs}
 * @param learningRate {@code learning_rate} (default per method: lora 2e-3, prompt 3e-2, prefix
 *     5e-4, full and freeze 5e-5)
 * @param perDeviceTrainBatchSize {@code per_device_train_batch_size}
 * @param gradientAccumulationSteps {@code gradient_accumulation_steps}
 * @param cutoffLen {@code cutoff_len}: the longest token sequence
 * @param warmupRatio {@code warmup_ratio}
 * @param lrSchedulerType {@code lr_scheduler_type}: linear, cosine or constant
 * @param weightDecay {@code weight_decay}
 * @param maxGradNorm {@code max_grad_norm}
 * @param loggingSteps {@code logging_steps}
 * @param seed {@code seed}
 * @param plotLoss {@code plot_loss}: write {@code training_loss.png}
 */
public record TrainArguments(String modelNameOrPath, String finetuningType, int loraRank, double loraAlpha,
        double loraDropout, String loraTarget, int numVirtualTokens, boolean prefixProjection,
        String promptTuningInitText, int freezeTrainableLayers, Path dataset, String textColumn, String labelColumn,
        String splitColumn, double valSize, int maxSamples, Path outputDir, int numTrainEpochs, double learningRate,
        int perDeviceTrainBatchSize, int gradientAccumulationSteps, int cutoffLen, double warmupRatio,
        String lrSchedulerType, double weightDecay, double maxGradNorm, int loggingSteps, long seed, boolean plotLoss) {

    /** The built-in model: all-MiniLM-L6-v2, from its Maven artifact. */
    public static final String DEFAULT_MODEL = "all-MiniLM-L6-v2";

    /** The methods {@code finetuning_type} names. */
    public static final List<String> METHODS = List.of("lora", "prefix", "prompt", "full", "freeze");

    private enum Type { STRING, INT, NUMBER, BOOLEAN }

    /** Every key, its type and its default (null: required, or chosen later). */
    private static final Map<String, Object[]> KEYS = new LinkedHashMap<>();

    static {
        key("model_name_or_path", Type.STRING, DEFAULT_MODEL);
        key("finetuning_type", Type.STRING, "lora");
        key("lora_rank", Type.INT, 8);
        key("lora_alpha", Type.NUMBER, null);
        key("lora_dropout", Type.NUMBER, 0.0);
        key("lora_target", Type.STRING, "all");
        key("num_virtual_tokens", Type.INT, 16);
        key("prefix_projection", Type.BOOLEAN, false);
        key("prompt_tuning_init_text", Type.STRING, null);
        key("freeze_trainable_layers", Type.INT, 2);
        key("dataset", Type.STRING, null);
        key("text_column", Type.STRING, "text");
        key("label_column", Type.STRING, "label");
        key("split_column", Type.STRING, "split");
        key("val_size", Type.NUMBER, 0.1);
        key("max_samples", Type.INT, null);
        key("output_dir", Type.STRING, null);
        key("num_train_epochs", Type.INT, 2);
        key("learning_rate", Type.NUMBER, null);
        key("per_device_train_batch_size", Type.INT, 16);
        key("gradient_accumulation_steps", Type.INT, 1);
        key("cutoff_len", Type.INT, 128);
        key("warmup_ratio", Type.NUMBER, 0.1);
        key("lr_scheduler_type", Type.STRING, "linear");
        key("weight_decay", Type.NUMBER, 0.0);
        key("max_grad_norm", Type.NUMBER, 1.0);
        key("logging_steps", Type.INT, 10);
        key("seed", Type.INT, 42);
        key("plot_loss", Type.BOOLEAN, true);
    }

    private static void key(String name, Type type, Object defaultValue) {
        KEYS.put(name, new Object[] {type, defaultValue});
    }

    /** The known keys, in the order the documentation lists them. */
    public static List<String> knownKeys() {
        return List.copyOf(KEYS.keySet());
    }

    /**
     * Reads and checks a YAML config file.
     *
     * @throws IllegalArgumentException naming the file and what is wrong with it
     */
    public static TrainArguments read(Path file) throws IOException {
        Object parsed;
        try {
            parsed = new ObjectMapper(new YAMLFactory()).readValue(Files.readString(file), Object.class);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("config file " + file + " does not exist");
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not valid YAML: " + e.getOriginalMessage());
        }
        if (!(parsed instanceof Map)) {
            throw new IllegalArgumentException(file + ": expected a mapping of keys to values, got "
                    + (parsed == null ? "an empty file" : parsed.getClass().getSimpleName()));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> values = (Map<String, Object>) parsed;
        return of(values, file.toString());
    }

    /** Checks a parsed config; {@code source} names it in messages. */
    public static TrainArguments of(Map<String, Object> raw, String source) {
        for (String k : raw.keySet()) {
            if (!KEYS.containsKey(k)) {
                throw new IllegalArgumentException(source + ": unknown key \"" + k + "\"; did you mean \""
                        + closest(k) + "\"? Known keys: " + String.join(", ", KEYS.keySet()));
            }
        }
        Map<String, Object> v = new LinkedHashMap<>();
        for (Map.Entry<String, Object[]> e : KEYS.entrySet()) {
            Object value = raw.containsKey(e.getKey()) ? raw.get(e.getKey()) : e.getValue()[1];
            v.put(e.getKey(), value == null ? null : typed(e.getKey(), (Type) e.getValue()[0], value, source));
        }
        for (String required : List.of("dataset", "output_dir")) {
            if (v.get(required) == null) {
                throw new IllegalArgumentException(source + ": missing required key \"" + required + "\"");
            }
        }
        String method = ((String) v.get("finetuning_type")).toLowerCase(Locale.ROOT);
        if (!METHODS.contains(method)) {
            throw new IllegalArgumentException(source + ": finetuning_type must be one of " + METHODS + ", got \""
                    + v.get("finetuning_type") + "\"");
        }
        String scheduler = ((String) v.get("lr_scheduler_type")).toLowerCase(Locale.ROOT);
        if (!List.of("linear", "cosine", "constant", "constant_with_warmup").contains(scheduler)) {
            throw new IllegalArgumentException(source + ": lr_scheduler_type must be linear, cosine or constant, got \""
                    + scheduler + "\"");
        }
        int rank = (Integer) v.get("lora_rank");
        double alpha = v.get("lora_alpha") == null ? 2.0 * rank : (Double) v.get("lora_alpha");
        double lr = v.get("learning_rate") != null ? (Double) v.get("learning_rate")
                : method.equals("lora") ? 2e-3 : method.equals("prompt") ? 3e-2 : method.equals("prefix") ? 5e-4 : 5e-5;
        positive(source, "lora_rank", rank);
        if (v.get("max_samples") != null) {
            positive(source, "max_samples", (Integer) v.get("max_samples"));
        }
        positive(source, "num_virtual_tokens", (Integer) v.get("num_virtual_tokens"));
        positive(source, "num_train_epochs", (Integer) v.get("num_train_epochs"));
        positive(source, "per_device_train_batch_size", (Integer) v.get("per_device_train_batch_size"));
        positive(source, "gradient_accumulation_steps", (Integer) v.get("gradient_accumulation_steps"));
        positive(source, "logging_steps", (Integer) v.get("logging_steps"));
        if ((Integer) v.get("cutoff_len") < 2) {
            throw new IllegalArgumentException(source + ": cutoff_len must be at least 2, got " + v.get("cutoff_len"));
        }
        double valSize = (Double) v.get("val_size");
        if (!(valSize >= 0 && valSize < 1)) {
            throw new IllegalArgumentException(source + ": val_size must be in [0, 1), got " + valSize);
        }
        Path dataset = Path.of((String) v.get("dataset"));
        if (!Files.isRegularFile(dataset)) {
            throw new IllegalArgumentException(source + ": dataset " + dataset + " does not exist");
        }
        return new TrainArguments((String) v.get("model_name_or_path"), method, rank, alpha, (Double) v.get("lora_dropout"),
                (String) v.get("lora_target"), (Integer) v.get("num_virtual_tokens"), (Boolean) v.get("prefix_projection"),
                (String) v.get("prompt_tuning_init_text"), (Integer) v.get("freeze_trainable_layers"), dataset,
                (String) v.get("text_column"), (String) v.get("label_column"), (String) v.get("split_column"), valSize,
                v.get("max_samples") == null ? 0 : (Integer) v.get("max_samples"), Path.of((String) v.get("output_dir")), (Integer) v.get("num_train_epochs"), lr,
                (Integer) v.get("per_device_train_batch_size"), (Integer) v.get("gradient_accumulation_steps"),
                (Integer) v.get("cutoff_len"), (Double) v.get("warmup_ratio"), scheduler,
                (Double) v.get("weight_decay"), (Double) v.get("max_grad_norm"), (Integer) v.get("logging_steps"),
                ((Integer) v.get("seed")).longValue(), (Boolean) v.get("plot_loss"));
    }

    private static void positive(String source, String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(source + ": " + key + " must be a positive integer, got " + value);
        }
    }

    private static Object typed(String key, Type type, Object value, String source) {
        switch (type) {
            case STRING:
                if (value instanceof String) {
                    return value;
                }
                if (value instanceof Number || value instanceof Boolean) {
                    return value.toString();
                }
                break;
            case INT:
                if (value instanceof Integer || value instanceof Long) {
                    return ((Number) value).intValue();
                }
                if (value instanceof Double && (Double) value == Math.rint((Double) value)) {
                    return ((Double) value).intValue();
                }
                break;
            case NUMBER:
                if (value instanceof Number) {
                    return ((Number) value).doubleValue();
                }
                if (value instanceof String) {
                    try {
                        return Double.parseDouble((String) value); // YAML reads 2e-3 as a string
                    } catch (NumberFormatException e) {
                        break;
                    }
                }
                break;
            default:
                if (value instanceof Boolean) {
                    return value;
                }
        }
        String expected = type == Type.INT ? "a whole number" : type == Type.NUMBER ? "a number"
                : type == Type.BOOLEAN ? "true or false" : "a string";
        throw new IllegalArgumentException(source + ": " + key + " must be " + expected + ", got " + describe(value));
    }

    private static String describe(Object value) {
        return value instanceof String ? "\"" + value + "\"" : value + " (" + value.getClass().getSimpleName() + ")";
    }

    /** The known key with the smallest edit distance to {@code key}. */
    static String closest(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String known : KEYS.keySet()) {
            int d = editDistance(key, known);
            if (d < bestDistance) {
                best = known;
                bestDistance = d;
            }
        }
        return best;
    }

    private static int editDistance(String a, String b) {
        int[] previous = new int[b.length() + 1];
        int[] current = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            previous[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            current[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int substitution = previous[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                current[j] = Math.min(substitution, Math.min(previous[j], current[j - 1]) + 1);
            }
            int[] t = previous;
            previous = current;
            current = t;
        }
        return previous[b.length()];
    }

    /** The LoRA target names: {@code all} means every linear layer. */
    public List<String> loraTargets() {
        List<String> out = new ArrayList<>();
        for (String part : loraTarget.split(",")) {
            if (!part.isBlank()) {
                out.add(part.trim());
            }
        }
        return out;
    }
}
