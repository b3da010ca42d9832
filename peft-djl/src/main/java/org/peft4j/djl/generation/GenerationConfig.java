package org.peft4j.djl.generation;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import org.peft4j.djl.models.ConfigKeys;

/**
 * How a {@link Generator} chooses tokens, with the names and defaults of transformers'
 * {@code GenerationConfig} ({@code generation/configuration_utils.py},
 * {@code _get_default_generation_params}): greedy unless {@code do_sample}; when sampling,
 * {@code temperature} 1, {@code top_k} 50 and {@code top_p} 1; {@code repetition_penalty} 1 (also
 * applied when greedy, as transformers does). One difference: transformers' default length is
 * {@code max_length} 20 counting the prompt, here it is {@code max_new_tokens} 20.
 *
 * <p>Immutable and validated when built; {@link #builder(Path)} starts from a model directory's
 * {@code generation_config.json}.
 */
public final class GenerationConfig {
    /** The file a Hugging Face model directory keeps its generation defaults in. */
    public static final String FILE_NAME = "generation_config.json";

    private final int maxNewTokens;
    private final boolean doSample;
    private final double temperature;
    private final int topK;
    private final double topP;
    private final double repetitionPenalty;
    private final List<Long> eosTokenIds;
    private final Long padTokenId;
    private final Long seed;
    private final boolean useCache;

    private GenerationConfig(Builder b) {
        maxNewTokens = b.maxNewTokens;
        doSample = b.doSample;
        temperature = b.temperature;
        topK = b.topK;
        topP = b.topP;
        repetitionPenalty = b.repetitionPenalty;
        eosTokenIds = List.copyOf(b.eosTokenIds);
        padTokenId = b.padTokenId;
        seed = b.seed;
        useCache = b.useCache;
    }

    /** Returns a builder with transformers' defaults (greedy, 20 new tokens, no end-of-sequence token). */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns a builder that starts from this config's settings, to change some of them. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxNewTokens = maxNewTokens;
        b.doSample = doSample;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.repetitionPenalty = repetitionPenalty;
        b.eosTokenIds = eosTokenIds;
        b.padTokenId = padTokenId;
        b.seed = seed;
        b.useCache = useCache;
        return b;
    }

    /**
     * Returns a builder whose defaults are those of {@code modelDir/generation_config.json} where it
     * sets them ({@code max_new_tokens}, {@code do_sample}, {@code temperature}, {@code top_k},
     * {@code top_p}, {@code repetition_penalty}, {@code eos_token_id} as one id or a list,
     * {@code pad_token_id}; {@code max_length} is not read), transformers' defaults elsewhere. Without
     * that file the same keys are read from {@code config.json}, as transformers'
     * {@code GenerationConfig.from_model_config} does (there usually only the token ids); without
     * either, the builder has transformers' defaults.
     *
     * @throws IllegalArgumentException naming the file and the key whose value has the wrong type
     * @throws IOException if the file exists but cannot be read
     */
    public static Builder builder(Path modelDir) throws IOException {
        Builder b = new Builder();
        Path file = modelDir.resolve(FILE_NAME);
        if (!Files.exists(file)) {
            file = modelDir.resolve("config.json");
            if (!Files.exists(file)) {
                return b;
            }
        }
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        String source = file.toString();
        if (json == null || !json.isObject()) {
            throw new IllegalArgumentException(source + ": expected a JSON object");
        }
        if (present(json, "max_new_tokens")) {
            b.optMaxNewTokens(ConfigKeys.positiveInt(json, "max_new_tokens", source));
        }
        b.optDoSample(ConfigKeys.bool(json, "do_sample", b.doSample, source));
        b.optTemperature(ConfigKeys.number(json, "temperature", b.temperature, source));
        if (present(json, "top_k")) {
            b.optTopK((int) integer(json, "top_k", source));
        }
        b.optTopP(ConfigKeys.number(json, "top_p", b.topP, source));
        b.optRepetitionPenalty(ConfigKeys.number(json, "repetition_penalty", b.repetitionPenalty, source));
        JsonNode eos = json.get("eos_token_id");
        if (eos != null && !eos.isNull()) {
            List<Long> ids = new ArrayList<>();
            if (eos.isArray()) {
                eos.forEach(id -> ids.add(tokenId(id, "eos_token_id", source)));
            } else {
                ids.add(tokenId(eos, "eos_token_id", source));
            }
            b.optEosTokenIds(ids);
        }
        if (present(json, "pad_token_id")) {
            b.optPadTokenId(tokenId(json.get("pad_token_id"), "pad_token_id", source));
        }
        return b;
    }

    private static boolean present(JsonNode json, String key) {
        return json.has(key) && !json.get(key).isNull();
    }

    private static long integer(JsonNode json, String key, String source) {
        JsonNode v = json.get(key);
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(source + ": key \"" + key + "\": expected an integer, found " + v);
        }
        return v.intValue();
    }

    private static long tokenId(JsonNode v, String key, String source) {
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
            throw new IllegalArgumentException(source + ": key \"" + key
                    + "\": expected a token id (an integer >= 0) or a list of them, found " + v);
        }
        return v.longValue();
    }

    /** Returns the most tokens generated per prompt ({@code max_new_tokens}). */
    public int maxNewTokens() {
        return maxNewTokens;
    }

    /** Returns whether tokens are sampled ({@code do_sample}); otherwise the most likely is taken. */
    public boolean doSample() {
        return doSample;
    }

    /** Returns the temperature the scores are divided by when sampling. */
    public double temperature() {
        return temperature;
    }

    /** Returns how many of the highest-scoring tokens sampling keeps ({@code top_k}; 0 keeps all). */
    public int topK() {
        return topK;
    }

    /** Returns the probability mass sampling keeps ({@code top_p}; 1 keeps all). */
    public double topP() {
        return topP;
    }

    /** Returns the repetition penalty (1 for none): scores of tokens already in the sequence are divided (if positive) or multiplied (if negative) by it. */
    public double repetitionPenalty() {
        return repetitionPenalty;
    }

    /** Returns the tokens that end a sequence ({@code eos_token_id}); empty for none. */
    public List<Long> eosTokenIds() {
        return eosTokenIds;
    }

    /** Returns the token for left padding and for finished rows ({@code pad_token_id}), if set. */
    public OptionalLong padTokenId() {
        return padTokenId == null ? OptionalLong.empty() : OptionalLong.of(padTokenId);
    }

    /** Returns the seed of the sampling random numbers, if set (otherwise each run draws differently). */
    public OptionalLong seed() {
        return seed == null ? OptionalLong.empty() : OptionalLong.of(seed);
    }

    /** Returns whether decoding keeps a key/value cache ({@code use_cache}) instead of re-reading the whole sequence each step. */
    public boolean useCache() {
        return useCache;
    }

    @Override
    public String toString() {
        return "GenerationConfig{max_new_tokens=" + maxNewTokens + ", do_sample=" + doSample + ", temperature="
                + temperature + ", top_k=" + topK + ", top_p=" + topP + ", repetition_penalty=" + repetitionPenalty
                + ", eos_token_id=" + eosTokenIds + ", pad_token_id=" + padTokenId + ", seed=" + seed + ", use_cache="
                + useCache + "}";
    }

    /** Builds a {@link GenerationConfig}; every setting is optional. */
    public static final class Builder {
        private int maxNewTokens = 20;
        private boolean doSample;
        private double temperature = 1.0;
        private int topK = 50;
        private double topP = 1.0;
        private double repetitionPenalty = 1.0;
        private List<Long> eosTokenIds = List.of();
        private Long padTokenId;
        private Long seed;
        private boolean useCache = true;

        private Builder() {}

        /** Sets the most tokens generated per prompt (default 20). */
        public Builder optMaxNewTokens(int maxNewTokens) {
            this.maxNewTokens = maxNewTokens;
            return this;
        }

        /** Samples tokens instead of taking the most likely (default false). */
        public Builder optDoSample(boolean doSample) {
            this.doSample = doSample;
            return this;
        }

        /** Sets the temperature of sampling, strictly positive when sampling (default 1). */
        public Builder optTemperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        /** Sets how many of the highest-scoring tokens sampling keeps, 0 for all (default 50). */
        public Builder optTopK(int topK) {
            this.topK = topK;
            return this;
        }

        /** Sets the probability mass sampling keeps, in [0, 1] (default 1, all). */
        public Builder optTopP(double topP) {
            this.topP = topP;
            return this;
        }

        /** Sets the repetition penalty, strictly positive (default 1, none). */
        public Builder optRepetitionPenalty(double repetitionPenalty) {
            this.repetitionPenalty = repetitionPenalty;
            return this;
        }

        /** Sets the tokens that end a sequence (default none). */
        public Builder optEosTokenIds(List<Long> eosTokenIds) {
            this.eosTokenIds = List.copyOf(eosTokenIds);
            return this;
        }

        /** Sets one token that ends a sequence. */
        public Builder optEosTokenId(long eosTokenId) {
            return optEosTokenIds(List.of(eosTokenId));
        }

        /** Sets the padding token (default: the first end-of-sequence token, as transformers does). */
        public Builder optPadTokenId(long padTokenId) {
            this.padTokenId = padTokenId;
            return this;
        }

        /** Sets the seed of the sampling random numbers, so that a run can be repeated. */
        public Builder optSeed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Decodes with a key/value cache (default true); false re-reads the whole sequence each step. */
        public Builder optUseCache(boolean useCache) {
            this.useCache = useCache;
            return this;
        }

        /**
         * Builds the config.
         *
         * @throws IllegalArgumentException naming the setting that is out of range and its range
         */
        public GenerationConfig build() {
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("max_new_tokens must be at least 1, got " + maxNewTokens);
            }
            // 0 is allowed when greedy: configs write "temperature": 0 for greedy decoding
            if (!(temperature >= 0) || Double.isInfinite(temperature) || (doSample && temperature == 0)) {
                throw new IllegalArgumentException("temperature must be a finite number > 0 when sampling, got "
                        + temperature + (temperature == 0 ? " (for greedy decoding, leave do_sample false)" : ""));
            }
            if (topK < 0) {
                throw new IllegalArgumentException("top_k must be >= 0 (0 keeps every token), got " + topK);
            }
            if (!(topP >= 0 && topP <= 1)) {
                throw new IllegalArgumentException("top_p must be in [0, 1], got " + topP);
            }
            if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
                throw new IllegalArgumentException("repetition_penalty must be a finite number > 0 (1 for none), got "
                        + repetitionPenalty);
            }
            for (Long id : eosTokenIds) {
                if (id < 0) {
                    throw new IllegalArgumentException("eos_token_id must hold token ids >= 0, got " + eosTokenIds);
                }
            }
            if (padTokenId != null && padTokenId < 0) {
                throw new IllegalArgumentException("pad_token_id must be a token id >= 0, got " + padTokenId);
            }
            return new GenerationConfig(this);
        }
    }
}
