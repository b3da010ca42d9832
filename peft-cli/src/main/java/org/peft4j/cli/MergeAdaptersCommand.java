package org.peft4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.algebra.CombinationType;
import org.peft4j.api.lora.algebra.MajoritySignMethod;
import org.peft4j.api.lora.algebra.WeightedAdapterMerge;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code peft4j merge-adapters DIR... --weights W,... --combination-type TYPE --out DIR}: LoRA
 * adapter directories combined into a new one, as Hugging Face PEFT's {@code add_weighted_adapter}
 * combines them ({@link WeightedAdapterMerge}), written in PEFT's layout as one unit (the atomic
 * directory save of {@link AdapterCheckpoint#save}).
 */
@Command(name = "merge-adapters", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Combine LoRA adapters with weights into a new adapter, as PEFT's add_weighted_adapter does.")
final class MergeAdaptersCommand implements Callable<Integer> {
    @Parameters(paramLabel = "ADAPTER_DIR", arity = "1..*", description = "adapter directories (adapter_config.json and adapter_model.safetensors)")
    private List<Path> adapters;

    @Option(names = "--weights", required = true, split = ",", paramLabel = "W", description = "one weight per adapter, comma-separated; negative subtracts")
    private List<Double> weights;

    @Option(names = "--combination-type", defaultValue = "svd", paramLabel = "TYPE",
            description = "linear, cat, svd, ties, ties_svd, dare_linear, dare_ties, dare_linear_svd, dare_ties_svd, "
                    + "magnitude_prune or magnitude_prune_svd (default: ${DEFAULT-VALUE}, as in PEFT)")
    private String combinationType;

    @Option(names = "--density", paramLabel = "D", description = "fraction of entries the pruning types keep, in [0, 1]")
    private Double density;

    @Option(names = "--majority-sign-method", defaultValue = "total", paramLabel = "M",
            description = "TIES's sign election: total or frequency (default: ${DEFAULT-VALUE})")
    private String majoritySignMethod;

    @Option(names = "--svd-rank", paramLabel = "R", description = "rank of the *_svd types' result (default: the largest rank)")
    private Integer svdRank;

    @Option(names = "--svd-clamp", paramLabel = "Q", description = "clamp the *_svd factors to this quantile of their entries")
    private Double svdClamp;

    @Option(names = "--seed", defaultValue = "0", paramLabel = "S", description = "seed of DARE's random masks (default: ${DEFAULT-VALUE})")
    private long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "where the combined adapter goes")
    private Path out;

    private final Peft4j.Console console;

    MergeAdaptersCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws IOException {
        CombinationType type = CombinationType.fromPeftName(combinationType);
        MajoritySignMethod signMethod = MajoritySignMethod.fromPeftName(majoritySignMethod);
        if (weights.size() != adapters.size()) {
            throw new IllegalArgumentException("got " + adapters.size() + " adapter directories but " + weights.size()
                    + " weights (--weights " + weights + "); give one weight per adapter");
        }
        Map<String, AdapterCheckpoint> loaded = new LinkedHashMap<>();
        for (Path dir : adapters) {
            if (loaded.put(dir.toString(), AdapterCheckpoint.load(dir)) != null) {
                throw new IllegalArgumentException("adapter directory " + dir + " is given twice");
            }
        }
        WeightedAdapterMerge.Builder builder = WeightedAdapterMerge.builder().setAdapters(loaded, weights)
                .setCombinationType(type).optMajoritySignMethod(signMethod).optSeed(seed);
        if (density != null) {
            builder.optDensity(density);
        }
        if (svdRank != null) {
            builder.optSvdRank(svdRank);
        }
        if (svdClamp != null) {
            builder.optSvdClamp(svdClamp);
        }
        WeightedAdapterMerge merge = builder.build();
        AdapterCheckpoint combined = merge.merge();
        combined.save(out);
        LoraConfig config = (LoraConfig) combined.config();
        console.out().println("combined " + adapters.size() + " adapters with " + merge.combinationType().peftName()
                + " into " + out + " (r=" + config.r() + ", lora_alpha=" + (int) config.loraAlpha() + ", "
                + combined.tensors().keySet().stream().filter(k -> k.endsWith(".lora_A.weight")).count() + " modules)");
        return 0;
    }
}
