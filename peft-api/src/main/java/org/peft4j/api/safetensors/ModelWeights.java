package org.peft4j.api.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The weights of a model as Hugging Face's {@code save_pretrained} writes them: one
 * {@value #SINGLE_FILE}, or shards that {@value #INDEX} lists in its {@code weight_map}
 * (transformers' {@code modeling_utils.py} writes both names). A PyTorch pickle
 * ({@code pytorch_model.bin}) is refused, never unpickled: loading a pickle can run any code.
 */
public final class ModelWeights {
    /** The file of an unsharded checkpoint. */
    public static final String SINGLE_FILE = "model.safetensors";
    /** The index of a sharded checkpoint. */
    public static final String INDEX = "model.safetensors.index.json";
    /** PyTorch's pickle checkpoints, refused. */
    private static final List<String> PICKLES = List.of("pytorch_model.bin", "pytorch_model.bin.index.json");

    private ModelWeights() {}

    /**
     * Reads every tensor of {@code model}: a {@code .safetensors} file, or a directory holding
     * {@value #SINGLE_FILE} or {@value #INDEX} and its shards.
     *
     * @throws IllegalArgumentException if the directory holds neither (a pickle checkpoint: with how
     *     to convert it), the index is malformed, names a shard outside the directory, or a tensor
     *     the index maps is not in its shard
     * @throws IOException if a file cannot be read
     */
    public static Map<String, Tensor> read(Path model) throws IOException {
        if (!Files.isDirectory(model)) {
            return readFile(model);
        }
        if (Files.exists(model.resolve(SINGLE_FILE))) {
            return readFile(model.resolve(SINGLE_FILE));
        }
        Path index = model.resolve(INDEX);
        if (Files.exists(index)) {
            return readShards(model, index);
        }
        for (String pickle : PICKLES) {
            if (Files.exists(model.resolve(pickle))) {
                throw new IllegalArgumentException(model.resolve(pickle) + " is a PyTorch pickle, which peft4j does not"
                        + " load (unpickling can run any code); convert it to safetensors with Python's transformers:"
                        + " AutoModel.from_pretrained(\"" + model + "\").save_pretrained(\"OUT\", safe_serialization=True)");
            }
        }
        List<String> present = new ArrayList<>();
        try (Stream<Path> files = Files.list(model)) {
            files.map(p -> p.getFileName().toString()).sorted().limit(20).forEach(present::add);
        }
        throw new IllegalArgumentException(model + " holds neither " + SINGLE_FILE + " nor " + INDEX + "; it holds "
                + present);
    }

    private static Map<String, Tensor> readShards(Path model, Path index) throws IOException {
        JsonNode weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        if (!weightMap.isObject() || weightMap.isEmpty()) {
            throw new IllegalArgumentException(index + ": expected an object \"weight_map\" naming each tensor's shard");
        }
        Map<String, Set<String>> byShard = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isTextual()) {
                throw new IllegalArgumentException(index + ": the shard of " + e.getKey() + " is not a file name");
            }
            byShard.computeIfAbsent(e.getValue().asText(), s -> new LinkedHashSet<>()).add(e.getKey());
        }
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (Map.Entry<String, Set<String>> shard : byShard.entrySet()) {
            Path file = model.resolve(shard.getKey()).normalize();
            if (!file.startsWith(model.normalize()) || file.equals(model.normalize())) {
                throw new IllegalArgumentException(index + ": shard " + shard.getKey() + " lies outside " + model);
            }
            Map<String, Tensor> tensors = readFile(file);
            for (String name : shard.getValue()) {
                Tensor t = tensors.get(name);
                if (t == null) {
                    throw new IllegalArgumentException(index + " maps " + name + " to " + shard.getKey()
                            + ", which does not hold it");
                }
                all.put(name, t);
            }
        }
        return all;
    }

    private static Map<String, Tensor> readFile(Path file) throws IOException {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            return st.readAll().tensors();
        }
    }
}
