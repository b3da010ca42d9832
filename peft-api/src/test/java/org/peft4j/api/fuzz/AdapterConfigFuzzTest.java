package org.peft4j.api.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterConfigJson;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.prefix.PrefixTuningConfig;
import org.peft4j.api.prompt.PromptTuningConfig;

/**
 * Mutated {@code adapter_config.json} files, seeded: each must end in a config or an
 * {@link AdapterFormatException} with a short, printable message, within
 * {@value FuzzRun#BOUND_SECONDS} seconds, matching included (every accepted LoRA config is matched
 * against module paths, so a regular expression that hangs is caught); no config that breaks a
 * rule an independent check reads from the JSON may be accepted, and every accepted one must write
 * and read back to itself. The default run tries 2,000 configs; the full set is
 * {@code mvn -B -ntp -pl peft-api test -Dtest=AdapterConfigFuzzTest -Dfuzz.cases=20000}.
 */
class AdapterConfigFuzzTest {
    private static final String[] VALUES = {"\"\"", "\"x\"", "\"(.*){12}!\"", "\"((a{1000}){1000}){1000}\"", "\"(?=q)\"", "\"(\"",
        "\"all-linear\"", "\"\\u0000\"", "\"" + "y".repeat(5000) + "\"", "0", "-1", "1.5", "1e39", "1e400", "2147483648",
        "9223372036854775808", "1e-50", "-0", "0.999999", "true", "false", "null", "[]", "[\"q\"]", "[1]", "[\"\"]", "{}",
        "{\"(.*){12}!\":4}", "{\"q\":\"x\"}", "{\"q\":1e39}", "{\"(a|aa)*b\":2}", "[\"(.*){12}!\"]", "\"(a|aa)*$\"", "\"\\ud800\"",
        "{\"q\":0}", "\"gaussian\"", "\"pissa\"", "\"SEQ_CLS\"", "\"seq_cls\"", "\"LORA\"", "\"PROMPT_TUNING\""};
    private static final String[] KEYS = {"peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "exclude_modules",
        "rank_pattern", "alpha_pattern", "modules_to_save", "bias", "use_rslora", "init_lora_weights", "task_type",
        "inference_mode", "num_virtual_tokens", "use_dora", "layers_pattern", "layers_to_transform", "token_dim",
        "prompt_tuning_init", "prefix_projection", "future_key", "__proto__"};
    private static final List<String> PATHS = List.of("classifier", "q",
            "bert.encoder.layer.0.attention.self.query", "bert.encoder.layer.11.output.dense",
            "base_model.model.encoder.layer.11.attention.self.query.".repeat(3) + "value");
    private static final Set<String> TYPES = Set.of("LORA", "PROMPT_TUNING", "PREFIX_TUNING");

    /** A config Hugging Face PEFT could have written. */
    private static List<String[]> generate(Random r) {
        List<String[]> members = new ArrayList<>();
        int kind = r.nextInt(5);
        if (kind < 3) {
            members.add(new String[] {"peft_type", "\"LORA\""});
            members.add(new String[] {"r", Integer.toString(1 + r.nextInt(64))});
            members.add(new String[] {"lora_alpha", r.nextBoolean() ? Integer.toString(1 + r.nextInt(64)) : "12.5"});
            members.add(new String[] {"lora_dropout", r.nextBoolean() ? "0.05" : "0.0"});
            String[] targets = {"[\"query\",\"value\"]", "\"all-linear\"", "\".*\\\\.(query|value)\"", "[\"dense\"]"};
            members.add(new String[] {"target_modules", targets[r.nextInt(targets.length)]});
            if (r.nextBoolean()) {
                members.add(new String[] {"rank_pattern", "{\"layer.0.attention.self.query\":4}"});
                members.add(new String[] {"alpha_pattern", "{\"dense\":2.5}"});
            }
            if (r.nextBoolean()) {
                members.add(new String[] {"exclude_modules", r.nextBoolean() ? "[\"classifier\"]" : "\".*layer\\\\.0\\\\..*\""});
            }
            members.add(new String[] {"bias", "\"none\""});
            members.add(new String[] {"use_rslora", Boolean.toString(r.nextBoolean())});
            members.add(new String[] {"init_lora_weights", "true"});
            members.add(new String[] {"modules_to_save", r.nextBoolean() ? "[\"classifier\"]" : "null"});
            members.add(new String[] {"use_dora", "false"});
        } else {
            members.add(new String[] {"peft_type", kind == 3 ? "\"PROMPT_TUNING\"" : "\"PREFIX_TUNING\""});
            members.add(new String[] {"num_virtual_tokens", Integer.toString(1 + r.nextInt(32))});
            members.add(new String[] {"token_dim", "384"});
            members.add(new String[] {"num_layers", "6"});
            members.add(new String[] {"num_attention_heads", "12"});
        }
        members.add(new String[] {"task_type", "\"SEQ_CLS\""});
        members.add(new String[] {"inference_mode", "true"});
        members.add(new String[] {"base_model_name_or_path", "\"sentence-transformers/all-MiniLM-L6-v2\""});
        return members;
    }

    private static String text(List<String[]> members) {
        StringBuilder b = new StringBuilder("{");
        for (int i = 0; i < members.size(); i++) {
            b.append(i == 0 ? "" : ",").append('"').append(members.get(i)[0]).append("\":").append(members.get(i)[1]);
        }
        return b.append('}').toString();
    }

    private static byte[] mutate(Random r, List<String[]> members) {
        int changes = r.nextInt(5) == 0 ? 0 : 1 + r.nextInt(2);
        for (int c = 0; c < changes; c++) {
            switch (r.nextInt(5)) {
                case 0:
                case 1:
                    if (!members.isEmpty()) {
                        members.get(r.nextInt(members.size()))[1] = VALUES[r.nextInt(VALUES.length)];
                    }
                    break;
                case 2:
                    members.add(r.nextInt(members.size() + 1), new String[] {KEYS[r.nextInt(KEYS.length)], VALUES[r.nextInt(VALUES.length)]});
                    break;
                case 3:
                    if (!members.isEmpty()) {
                        members.remove(r.nextInt(members.size()));
                    }
                    break;
                default:
                    int depth = 990 + r.nextInt(20);
                    members.add(new String[] {"future_key", "[".repeat(depth) + "]".repeat(depth)});
            }
        }
        byte[] bytes = text(members).getBytes(StandardCharsets.UTF_8);
        switch (r.nextInt(10)) {
            case 0: {
                byte[] copy = bytes.clone();
                copy[r.nextInt(copy.length)] ^= (byte) (1 << r.nextInt(8));
                return copy;
            }
            case 1:
                return java.util.Arrays.copyOf(bytes, r.nextInt(bytes.length + 1));
            case 2: {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                int at = r.nextInt(bytes.length + 1);
                b.write(bytes, 0, at);
                b.writeBytes(new byte[][] {{(byte) 0xff}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}}[r.nextInt(3)]);
                b.write(bytes, at, bytes.length - at);
                return b.toByteArray();
            }
            case 3: {
                String[] after = {" x", " {}", "\n", "]"};
                return (text(members) + after[r.nextInt(after.length)]).getBytes(StandardCharsets.UTF_8);
            }
            default:
                return bytes;
        }
    }

    /** The rule an accepted config breaks, judged from the JSON alone; null if none of those checked. */
    private static String brokenRule(byte[] bytes) {
        Object root;
        try {
            root = StrictJson.parse(StrictJson.utf8(bytes, 0, bytes.length), 1000);
        } catch (StrictJson.Invalid e) {
            return "not UTF-8 JSON: " + e.getMessage();
        }
        if (!(root instanceof StrictJson.Obj)) {
            return "not an object";
        }
        StrictJson.Obj o = (StrictJson.Obj) root;
        if (o.hasRepeatedKey()) {
            return "a repeated key";
        }
        Object type = o.get("peft_type");
        if (!(type instanceof String) || !TYPES.contains(type)) {
            return "no known peft_type";
        }
        if (!type.equals("LORA")) {
            return positiveInt(o.get("num_virtual_tokens")) ? null : "num_virtual_tokens not a positive int";
        }
        if (!positiveInt(o.get("r"))) {
            return "r not a positive int";
        }
        if (!positiveFloat(o.get("lora_alpha"))) {
            return "lora_alpha not a positive float";
        }
        Object dropout = o.get("lora_dropout");
        if (dropout != null && dropout != StrictJson.NULL) {
            if (!(dropout instanceof StrictJson.Num)) {
                return "lora_dropout not a number";
            }
            float d = (float) Double.parseDouble(((StrictJson.Num) dropout).text);
            if (!(d >= 0 && d < 1)) {
                return "lora_dropout outside [0, 1)";
            }
        }
        Object targets = o.get("target_modules");
        if (targets == null || targets == StrictJson.NULL) {
            return "no target_modules";
        }
        if (targets instanceof List) {
            for (Object t : (List<?>) targets) {
                if (!(t instanceof String) || ((String) t).isBlank()) {
                    return "a target that is not a name";
                }
            }
        } else if (!(targets instanceof String)) {
            return "target_modules neither names nor a pattern";
        }
        for (String key : new String[] {"rank_pattern", "alpha_pattern"}) {
            Object p = o.get(key);
            if (p instanceof StrictJson.Obj) {
                for (Object v : ((StrictJson.Obj) p).values) {
                    if (!(key.equals("rank_pattern") ? positiveInt(v) : positiveFloat(v))) {
                        return key + " holds a bad value";
                    }
                }
            }
        }
        return null;
    }

    private static boolean positiveInt(Object v) {
        return v instanceof StrictJson.Num && ((StrictJson.Num) v).isPlainUnsignedInteger()
                && new java.math.BigInteger(((StrictJson.Num) v).text).compareTo(java.math.BigInteger.valueOf(Integer.MAX_VALUE)) <= 0
                && !((StrictJson.Num) v).text.equals("0");
    }

    private static boolean positiveFloat(Object v) {
        if (!(v instanceof StrictJson.Num) || StrictJson.overflowsDouble((StrictJson.Num) v)) {
            return false;
        }
        float f = (float) Double.parseDouble(((StrictJson.Num) v).text);
        return Float.isFinite(f) && f > 0;
    }

    /** Parses, then uses the config as injection would: matching every rule against module paths. */
    private static PeftConfig parseAndUse(byte[] bytes) {
        PeftConfig config = AdapterConfigJson.parse(bytes, "adapter_config.json");
        if (config instanceof LoraConfig) {
            LoraConfig lora = (LoraConfig) config;
            for (String path : PATHS) {
                lora.isTargeted(path);
                if (!Float.isFinite(lora.scalingFor(path)) || lora.rankFor(path) <= 0) {
                    throw new IllegalStateException("a scaling or rank that is not usable on " + path);
                }
            }
        }
        return config;
    }

    @Test
    void everyMutatedConfigEndsInAConfigOrAFormatError() {
        int cases = FuzzRun.cases(2000);
        Random random = new Random(FuzzRun.seed());
        try (FuzzRun run = new FuzzRun("adapter config fuzzer")) {
            for (int i = 0; i < cases; i++) {
                byte[] bytes = mutate(random, generate(random));
                Object out = run.run(i, () -> parseAndUse(bytes));
                if (out instanceof PeftConfig) {
                    run.accepted++;
                    String broken = brokenRule(bytes);
                    if (broken != null) {
                        run.bad("case " + i + ": accepted a config that breaks a rule: " + broken);
                    }
                    PeftConfig config = (PeftConfig) out;
                    if (!AdapterConfigJson.parse(AdapterConfigJson.toJson(config), "round trip").equals(config)) {
                        run.bad("case " + i + ": does not write and read back to itself");
                    }
                    assertThat(config).isInstanceOfAny(LoraConfig.class, PromptTuningConfig.class, PrefixTuningConfig.class);
                } else if (out instanceof AdapterFormatException) {
                    run.cleanErrors++;
                    if (!run.messageIsClean((Throwable) out)) {
                        run.bad("case " + i + ": a message with raw content or too long: " + ((Throwable) out).getMessage());
                    }
                } else if (out != null) {
                    run.bad("case " + i + ": " + out);
                }
            }
            System.out.println(run.summary());
            run.bad.forEach(b -> System.out.println("  " + b));
            assertThat(run.bad).isEmpty();
            assertThat(run.accepted).isPositive();
            assertThat(run.cleanErrors).isPositive();
        }
    }
}
