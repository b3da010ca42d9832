package org.peft4j.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.djl.models.llama.LlamaConfig;
import org.peft4j.djl.models.llama.LlamaForCausalLM;

/**
 * A tiny random LLaMA written in Hugging Face's layout for the command's tests: 2 layers, hidden
 * 64, 4 query heads over 2 key/value heads, untied; a WordLevel {@code tokenizer.json} whose words
 * are whitespace-separated; a chat template in {@code tokenizer_config.json} whose role tags are
 * words too; {@code generation_config.json} with {@code </s>} as end of sequence.
 */
final class TinyDecoder {
    /** The vocabulary: special tokens, the template's tags, and the words of the tests' conversations. */
    static final List<String> WORDS = List.of("<pad>", "<s>", "</s>", "<unk>", "<user>", "<assistant>", "<system>",
            "what", "is", "the", "capital", "of", "france", "italy", "spain", "japan", "paris", "rome", "madrid",
            "tokyo", "city", "be", "brief", "hello", "hi");
    /** Role tags, the content, and the end of each turn. */
    static final String CHAT_TEMPLATE = "{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} </s> {% endfor %}"
            + "{% if add_generation_prompt %}<assistant> {% endif %}";

    private TinyDecoder() {}

    /** Writes the model into {@code dir} (created) and returns it. */
    static Path write(Path dir, long seed) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Files.createDirectories(dir);
        ObjectNode config = json.createObjectNode().put("model_type", "llama").put("vocab_size", WORDS.size())
                .put("hidden_size", 64).put("intermediate_size", 96).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2).put("max_position_embeddings", 128)
                .put("tie_word_embeddings", false).put("bos_token_id", 1).put("eos_token_id", 2).put("pad_token_id", 0);
        config.putArray("architectures").add("LlamaForCausalLM");
        Files.writeString(dir.resolve("config.json"), config.toPrettyString());
        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": 2,"
                + " \"pad_token_id\": 0, \"max_new_tokens\": 8}");
        ObjectNode tokenizer = json.createObjectNode().put("version", "1.0");
        ArrayNode added = tokenizer.putArray("added_tokens");
        for (int i = 0; i < 4; i++) {
            added.addObject().put("id", i).put("content", WORDS.get(i)).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        tokenizer.putNull("normalizer");
        tokenizer.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        tokenizer.putNull("post_processor");
        tokenizer.putNull("decoder");
        ObjectNode model = tokenizer.putObject("model").put("type", "WordLevel").put("unk_token", "<unk>");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < WORDS.size(); i++) {
            vocab.put(WORDS.get(i), i);
        }
        Files.writeString(dir.resolve("tokenizer.json"), tokenizer.toPrettyString());
        Files.writeString(dir.resolve("tokenizer_config.json"), json.createObjectNode().put("bos_token", "<s>")
                .put("eos_token", "</s>").put("pad_token", "<pad>").put("chat_template", CHAT_TEMPLATE).toPrettyString());
        try (NDManager manager = NDManager.newBaseManager()) {
            ai.djl.engine.Engine.getInstance().setRandomSeed((int) seed);
            LlamaForCausalLM llama = new LlamaForCausalLM(LlamaConfig.fromJson(config, dir.toString()));
            llama.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
            Files.write(dir.resolve("model.safetensors"),
                    new SafeTensors(llama.huggingFaceWeights(), SafeTensors.PT_METADATA).toBytes());
        }
        return dir;
    }

    /** Writes {@code pairs} (instruction, answer) as an alpaca dataset and returns the file. */
    static Path alpaca(Path file, List<String[]> pairs) throws IOException {
        ArrayNode rows = new ObjectMapper().createArrayNode();
        for (String[] pair : pairs) {
            rows.addObject().put("instruction", pair[0]).put("input", "").put("output", pair[1]);
        }
        Files.writeString(file, rows.toPrettyString());
        return file;
    }
}
