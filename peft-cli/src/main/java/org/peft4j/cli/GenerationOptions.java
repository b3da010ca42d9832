package org.peft4j.cli;

import org.peft4j.djl.generation.GenerationConfig;
import picocli.CommandLine.Option;

/**
 * The decoding options of {@code generate} and {@code chat}; each one left out keeps the model's
 * {@code generation_config.json} value (else transformers' default).
 */
final class GenerationOptions {
    @Option(names = "--max-new-tokens", paramLabel = "N", description = "(default: generation_config.json's, else 20)")
    Integer maxNewTokens;

    @Option(names = "--do-sample", negatable = true, description = "sample instead of greedy decoding")
    Boolean doSample;

    @Option(names = "--temperature", paramLabel = "T", description = "divides the logits when sampling")
    Double temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "sample among the K likeliest tokens")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "sample among the likeliest tokens whose probability reaches P")
    Double topP;

    @Option(names = "--repetition-penalty", paramLabel = "R", description = "penalises tokens already in the text")
    Double repetitionPenalty;

    @Option(names = "--seed", paramLabel = "S", description = "makes sampling repeatable")
    Long seed;

    /** {@code config} with the options that were given. */
    GenerationConfig apply(GenerationConfig config) {
        GenerationConfig.Builder builder = config.toBuilder();
        if (maxNewTokens != null) {
            builder.optMaxNewTokens(maxNewTokens);
        }
        if (doSample != null) {
            builder.optDoSample(doSample);
        }
        if (temperature != null) {
            builder.optTemperature(temperature);
        }
        if (topK != null) {
            builder.optTopK(topK);
        }
        if (topP != null) {
            builder.optTopP(topP);
        }
        if (repetitionPenalty != null) {
            builder.optRepetitionPenalty(repetitionPenalty);
        }
        if (seed != null) {
            builder.optSeed(seed);
        }
        return builder.build();
    }
}
