package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.algebra.LoraExtraction;
import org.peft4j.api.safetensors.ModelWeights;
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
    @Option(names = "--base", required = true, paramLabel = "MODEL",
            description = "the base model: a directory with " + ModelWeights.SINGLE_FILE + " (or " + ModelWeights.INDEX
                    + ") or a .safetensors file")
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
        LoraExtraction.Builder builder = LoraExtraction.builder().setBase(ModelWeights.read(base))
                .setTuned(ModelWeights.read(tuned))
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
}
