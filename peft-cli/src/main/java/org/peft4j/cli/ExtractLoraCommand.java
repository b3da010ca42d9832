package org.peft4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.algebra.LoraExtraction;
import org.peft4j.api.safetensors.SafeTensorsFile;
import org.peft4j.api.safetensors.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code peft4j extract-lora --base M --tuned M --rank r --out DIR}: a LoRA adapter of rank r
 * extracted from a fully fine-tuned model by a truncated SVD of W_tuned − W_base per weight
 * ({@link LoraExtraction}), written in Hugging Face PEFT's layout as one unit.
 */
@Command(name = "extract-lora", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Extract a rank-r LoRA adapter from a fully fine-tuned model (SVD of W_tuned - W_base).")
final class ExtractLoraCommand implements Callable<Integer> {
    /** A model directory's single weights file. */
    static final String WEIGHTS = "model.safetensors";
    /** A model directory's index of sharded weights files. */
    static final String INDEX = "model.safetensors.index.json";

    @Option(names = "--base", required = true, paramLabel = "MODEL",
            description = "the base model: a directory with " + WEIGHTS + " (or " + INDEX + ") or a .safetensors file")
    private Path base;

    @Option(names = "--tuned", required = true, paramLabel = "MODEL", description = "the fully fine-tuned model, as --base")
    private Path tuned;

    @Option(names = "--rank", required = true, paramLabel = "R", description = "the rank r of the adapter")
    private int rank;

    @Option(names = "--target-modules", split = ",", paramLabel = "NAME",
            description = "extract only these modules (default: every changed 2-D weight except embeddings)")
    private List<String> targetModules;

    @Option(names = "--task-type", paramLabel = "TASK", description = "the adapter's task_type, such as SEQ_CLS")
    private TaskType taskType;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S",
            description = "seed of the randomized SVD of matrices over 1,024 a side (default: ${DEFAULT-VALUE})")
    private long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the adapter goes")
    private Path out;

    private final Peft4j.Console console;

    ExtractLoraCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        LoraExtraction.Builder builder = LoraExtraction.builder().setBase(readWeights(base)).setTuned(readWeights(tuned))
                .setRank(rank).optTaskType(taskType).optBaseModelNameOrPath(base.toString()).optSeed(seed);
        if (targetModules != null) {
            builder.optTargetModules(TargetModules.names(targetModules));
        }
        AdapterCheckpoint adapter = builder.build().extract();
        adapter.save(out);
        LoraConfig config = (LoraConfig) adapter.config();
        console.out().println("extracted a rank-" + rank + " LoRA adapter on " + config.targetModules().names().size()
                + " modules" + (config.modulesToSave().isEmpty() ? "" : ", with " + config.modulesToSave() + " saved whole")
                + ", into " + out);
        return 0;
    }

    /**
     * A model's weights: a .safetensors file, or a directory's {@value #WEIGHTS} or the shards its
     * {@value #INDEX} lists.
     */
    static Map<String, Tensor> readWeights(Path model) throws IOException {
        if (!Files.isDirectory(model)) {
            return read(model);
        }
        if (Files.exists(model.resolve(WEIGHTS))) {
            return read(model.resolve(WEIGHTS));
        }
        Path index = model.resolve(INDEX);
        if (!Files.exists(index)) {
            throw new IllegalArgumentException(model + " holds neither " + WEIGHTS + " nor " + INDEX);
        }
        JsonNode weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        if (!weightMap.isObject()) {
            throw new IllegalArgumentException(index + ": expected an object \"weight_map\" naming each tensor's shard");
        }
        Set<String> shards = new LinkedHashSet<>();
        weightMap.forEach(file -> shards.add(file.asText()));
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (String shard : shards) {
            Path file = model.resolve(shard).normalize();
            if (!file.startsWith(model.normalize())) {
                throw new IllegalArgumentException(index + ": shard " + shard + " lies outside " + model);
            }
            all.putAll(read(file));
        }
        return all;
    }

    private static Map<String, Tensor> read(Path file) throws IOException {
        try (SafeTensorsFile st = SafeTensorsFile.open(file)) {
            return st.readAll().tensors();
        }
    }
}
