package org.peft4j.djl.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.internal.AtomicDirectory;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;

/**
 * A complete Hugging Face model directory for a causal language model, such as one whose LoRA
 * adapter was merged: {@code model.safetensors} with the model's weights, and the source
 * directory's {@code config.json}, tokenizer files and {@code generation_config.json} copied
 * unchanged, so that transformers' {@code AutoModelForCausalLM.from_pretrained} and
 * {@code AutoTokenizer.from_pretrained} load it.
 */
public final class DecoderDirectory {
    /** The files copied from the source model directory when it has them. */
    public static final List<String> COPIED = List.of("config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "vocab.json", "merges.txt",
            "tokenizer.model");

    private DecoderDirectory() {}

    /**
     * Writes {@code model} into {@code target} as one unit (see {@link AtomicDirectory}), with the
     * configuration and tokenizer files of {@code sourceModelDir}.
     *
     * @throws IllegalArgumentException if the source has no {@code config.json}
     * @throws IllegalStateException if an adapter is still attached to the model
     */
    public static void save(CausalLanguageModel model, Path sourceModelDir, Path target) throws IOException {
        if (!Files.exists(sourceModelDir.resolve("config.json"))) {
            throw new IllegalArgumentException(sourceModelDir + " has no config.json to copy");
        }
        Map<String, Tensor> weights = model.huggingFaceWeights();
        Map<String, AtomicFiles.Content> files = new LinkedHashMap<>();
        for (String name : COPIED) {
            Path source = sourceModelDir.resolve(name);
            if (Files.exists(source)) {
                files.put(name, out -> Files.copy(source, out));
            }
        }
        byte[] safetensors = new SafeTensors(weights, SafeTensors.PT_METADATA).toBytes();
        files.put("model.safetensors", out -> out.write(safetensors));
        AtomicDirectory.write(target, files);
    }
}
