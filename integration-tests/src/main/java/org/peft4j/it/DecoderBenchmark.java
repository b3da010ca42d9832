package org.peft4j.it;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.training.tracker.Tracker;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.models.KeyValueCache;
import org.peft4j.djl.models.llama.LlamaConfig;
import org.peft4j.djl.models.llama.LlamaForCausalLM;
import org.peft4j.djl.sft.CausalLmLoss;
import org.peft4j.djl.sft.CausalLmTask;
import org.peft4j.djl.sft.SftExample;
import org.peft4j.djl.train.AdamW;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.GradientClipping;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The decoder benchmark: a LLaMA-style model of a tiny-but-not-toy size (by default 8 layers,
 * hidden 512, grouped-query attention with 8 query and 4 key/value heads, vocabulary 32,000) with
 * LoRA r=8 on {@code q_proj} and {@code v_proj}, one supervised fine-tuning update (forward, the
 * next-token loss, backward, clipping, AdamW) at batch 4 x sequence 256 timed two ways in
 * alternating rounds: through peft4j ({@link FineTuning#profileSteps}: blocks, adapters, the task's
 * batch) and written as raw NDArray operations on the same engine with the same weights and the
 * same optimizer; then greedy generation with and without the key/value cache. Writes
 * {@code decoder-results.md} and {@code decoder-results.json}.
 */
@Command(name = "decoder-benchmark", sortOptions = false,
        description = "Times a LoRA SFT update of a LLaMA-style model against the same update as raw NDArray ops,"
                + " and generation with and without the cache.")
public final class DecoderBenchmark implements Callable<Integer> {
    private static final float LEARNING_RATE = 1e-4f;
    private static final int RANK = 8;
    private static final float ALPHA = 16;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show the options and exit")
    private boolean help;
    @Option(names = "--out", paramLabel = "DIR", description = "where the results go (default: ${DEFAULT-VALUE})")
    private Path out = Path.of("benchmarks");
    @Option(names = "--layers", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int layers = 8;
    @Option(names = "--hidden", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int hidden = 512;
    @Option(names = "--sequence", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int sequence = 256;
    @Option(names = "--batch", paramLabel = "N", description = "(default: ${DEFAULT-VALUE})")
    private int batch = 4;
    @Option(names = "--rounds", paramLabel = "N", description = "alternating rounds of each update (default: ${DEFAULT-VALUE})")
    private int rounds = 7;
    @Option(names = "--prompt", paramLabel = "N", description = "prompt tokens for generation (default: ${DEFAULT-VALUE})")
    private int prompt = 32;
    @Option(names = "--new-tokens", paramLabel = "N", description = "tokens generated (default: ${DEFAULT-VALUE})")
    private int newTokens = 64;

    /** A benchmark with the default options; picocli sets the ones given. */
    DecoderBenchmark() {}

    /** Runs the benchmark; {@code --help} lists the options. Exits with 2 on bad options. */
    public static void main(String[] args) {
        int status = new CommandLine(new DecoderBenchmark()).execute(args);
        if (status != 0) {
            System.exit(status);
        }
    }

    @Override
    public Integer call() throws Exception {
        Engine.getInstance().setRandomSeed(1);
        ObjectNode json = new ObjectMapper().createObjectNode().put("model_type", "llama").put("vocab_size", 32000)
                .put("hidden_size", hidden).put("intermediate_size", hidden * 11 / 4).put("num_hidden_layers", layers)
                .put("num_attention_heads", 8).put("num_key_value_heads", 4).put("max_position_embeddings", 4096);
        LlamaConfig config = LlamaConfig.fromJson(json, "benchmark");
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("config", Map.of("layers", layers, "hidden", hidden, "intermediate", config.intermediateSize(),
                "heads", 8, "kv_heads", 4, "vocab", 32000, "batch", batch, "sequence", sequence, "lora_rank", RANK,
                "lora_targets", List.of("q_proj", "v_proj")));
        try (Model model = Model.newInstance("decoder-benchmark")) {
            LlamaForCausalLM llama = new LlamaForCausalLM(config);
            llama.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1));
            model.setBlock(llama);
            Map<String, NDArray> weights = new LinkedHashMap<>();
            StateDicts.namedParameters(llama).forEach((name, p) -> weights.put(name, p.getArray()));
            PeftModel peft = Peft.apply(llama, LoraConfig.builder().optR(RANK).optLoraAlpha(ALPHA)
                    .setTargetModules("q_proj", "v_proj").build());
            List<SftExample> rows = randomRows(new Random(2));
            FineTuning<SftExample> run = new FineTuning<>(model, peft, new CausalLmTask(0));
            RawStep raw = new RawStep(config, weights, model.getNDManager());
            List<Double> library = new ArrayList<>();
            List<FineTuning.StepPhases> phases = new ArrayList<>();
            List<Double> handWritten = new ArrayList<>();
            run.profileSteps(rows, LEARNING_RATE, 2); // warm-up: allocations, the optimizer's moments
            raw.steps(rows, 2);
            for (int round = 0; round < rounds; round++) {
                boolean libraryFirst = round % 2 == 0;
                for (int turn = 0; turn < 2; turn++) {
                    if (libraryFirst == (turn == 0)) {
                        FineTuning.StepPhases step = run.profileSteps(rows, LEARNING_RATE, 1).get(0);
                        phases.add(step);
                        library.add(step.totalMs());
                    } else {
                        handWritten.add(raw.steps(rows, 1).get(0));
                    }
                }
            }
            double peftMs = median(library);
            double rawMs = median(handWritten);
            results.put("sft_update", Map.of("peft4j_ms", round(peftMs), "raw_ndarray_ms", round(rawMs),
                    "ratio", round(peftMs / rawMs), "rounds", rounds, "peft4j_all_ms", library, "raw_all_ms", handWritten));
            System.out.printf(Locale.ROOT, "LoRA SFT update: peft4j %.1f ms, raw NDArray ops %.1f ms, ratio %.3f%n",
                    peftMs, rawMs, peftMs / rawMs);
            System.out.printf(Locale.ROOT, "peft4j phases (median ms): batch %.1f, forward %.1f, backward %.1f, clip %.1f,"
                    + " update %.1f%n", median(phases, FineTuning.StepPhases::encodeMs), median(phases,
                    FineTuning.StepPhases::forwardMs), median(phases, FineTuning.StepPhases::backwardMs),
                    median(phases, FineTuning.StepPhases::clipMs), median(phases, FineTuning.StepPhases::updateMs));
            peft.unload();
            results.put("generation", generation(llama, model.getNDManager()));
        }
        write(results);
        return 0;
    }

    private List<SftExample> randomRows(Random random) {
        List<SftExample> rows = new ArrayList<>();
        for (int r = 0; r < batch; r++) {
            long[] ids = new long[sequence];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(32000);
            }
            rows.add(new SftExample(ids, ids));
        }
        return rows;
    }

    /** Greedy decoding of {@code newTokens} after a random prompt, with the cache and recomputing everything. */
    private Map<String, Object> generation(LlamaForCausalLM model, NDManager manager) {
        Random random = new Random(3);
        long[] start = new long[prompt];
        for (int i = 0; i < start.length; i++) {
            start[i] = random.nextInt(32000);
        }
        List<Double> cached = new ArrayList<>();
        List<Double> uncached = new ArrayList<>();
        long[] first = null;
        for (int round = 0; round < 3; round++) {
            for (boolean withCache : round % 2 == 0 ? new boolean[] {true, false} : new boolean[] {false, true}) {
                long begin = System.nanoTime();
                long[] tokens = greedy(model, start, withCache, manager);
                double seconds = (System.nanoTime() - begin) / 1e9;
                (withCache ? cached : uncached).add(newTokens / seconds);
                if (first == null) {
                    first = tokens;
                } else if (!Arrays.equals(first, tokens)) {
                    throw new IllegalStateException("decoding with and without the cache chose different tokens");
                }
            }
        }
        double with = median(cached);
        double without = median(uncached);
        System.out.printf(Locale.ROOT, "greedy generation of %d tokens after %d: %.1f tokens/s with the cache,"
                + " %.1f without (%.2fx)%n", newTokens, prompt, with, without, with / without);
        return Map.of("prompt_tokens", prompt, "new_tokens", newTokens, "tokens_per_second_cached", round(with),
                "tokens_per_second_uncached", round(without), "speedup", round(with / without), "same_tokens", true);
    }

    private long[] greedy(LlamaForCausalLM model, long[] start, boolean withCache, NDManager manager) {
        List<Long> tokens = new ArrayList<>();
        for (long id : start) {
            tokens.add(id);
        }
        KeyValueCache cache = withCache ? new KeyValueCache(model.numLayers()) : null;
        try (NDManager scope = manager.newSubManager()) {
            long[] feed = start;
            for (int i = 0; i < newTokens; i++) {
                try (NDManager step = scope.newSubManager()) {
                    NDArray ids = step.create(feed, new Shape(1, feed.length));
                    NDArray logits = model.logits(new ParameterStore(step, false), ids, null, null, cache, false);
                    long next = logits.get(new NDIndex("0, -1, :")).argMax().getLong();
                    tokens.add(next);
                    if (cache != null) {
                        cache.attach(scope); // the cache outlives the step; the rest of the step is freed
                    }
                    feed = withCache ? new long[] {next} : tokens.stream().mapToLong(Long::longValue).toArray();
                }
            }
        }
        return tokens.stream().mapToLong(Long::longValue).toArray();
    }

    /**
     * The same LoRA SFT update written as NDArray operations on the same engine: DJL's functional
     * {@code Linear.linear} (torch's linear), embedding lookup, RMSNorm, rotary positions,
     * grouped-query attention, the SiLU MLP, {@link CausalLmLoss}, a gradient collector, the global
     * norm and {@link AdamW}, with LoRA A and B started as PEFT starts them.
     */
    private static final class RawStep {
        private final LlamaConfig c;
        private final Map<String, NDArray> w;
        private final List<Parameter> lora = new ArrayList<>();
        private final Map<String, NDArray[]> adapters = new LinkedHashMap<>();
        private final AdamW optimizer = AdamW.builder().optLearningRateTracker(Tracker.fixed(LEARNING_RATE))
                .optWeightDecay(0.01f).build();
        private final NDManager manager;

        RawStep(LlamaConfig c, Map<String, NDArray> weights, NDManager manager) {
            this.c = c;
            this.w = weights;
            this.manager = manager;
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                for (String target : List.of("q_proj", "v_proj")) {
                    NDArray weight = w.get("model.layers." + l + ".self_attn." + target + ".weight");
                    long in = weight.getShape().get(1);
                    NDArray a = manager.randomUniform((float) -Math.sqrt(1.0 / in), (float) Math.sqrt(1.0 / in),
                            new Shape(RANK, in));
                    NDArray b = manager.zeros(new Shape(weight.getShape().get(0), RANK));
                    adapters.put(l + target, new NDArray[] {parameter("a" + l + target, a), parameter("b" + l + target, b)});
                }
            }
        }

        private NDArray parameter(String name, NDArray value) {
            Parameter p = Parameter.builder().setName(name).setType(Parameter.Type.WEIGHT).build();
            p.setArray(value);
            value.setRequiresGradient(true);
            lora.add(p);
            return value;
        }

        /** Runs {@code steps} updates on {@code rows}; returns each one's milliseconds. */
        List<Double> steps(List<SftExample> rows, int steps) {
            List<Double> ms = new ArrayList<>();
            for (int s = 0; s < steps; s++) {
                long begin = System.nanoTime();
                try (NDManager scope = manager.newSubManager()) {
                    long[][] ids = new long[rows.size()][];
                    for (int r = 0; r < ids.length; r++) {
                        ids[r] = rows.get(r).inputIds();
                    }
                    NDArray input = scope.create(ids);
                    try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                        NDArray loss = new CausalLmLoss().evaluate(new NDList(input), new NDList(logits(input)));
                        loss.getFloat();
                        collector.backward(loss);
                    }
                    optimizer.step(lora, GradientClipping.coefficient(GradientClipping.globalNorm(lora), 1f));
                }
                ms.add((System.nanoTime() - begin) / 1e6);
            }
            return ms;
        }

        private NDArray logits(NDArray ids) {
            NDManager m = ids.getManager();
            long b = ids.getShape().get(0);
            long t = ids.getShape().get(1);
            int d = c.headDim();
            NDArray h = ids.getNDArrayInternal().embedding(ids, w.get("model.embed_tokens.weight"), SparseFormat.DENSE)
                    .singletonOrThrow();
            float[] inverse = new float[d / 2];
            for (int i = 0; i < inverse.length; i++) {
                inverse[i] = 1f / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / d);
            }
            NDArray angles = m.arange(0f, (float) t).expandDims(-1).mul(m.create(inverse));
            angles = angles.concat(angles, -1).expandDims(0).expandDims(0);
            NDArray cos = angles.cos();
            NDArray sin = angles.sin();
            NDArray mask = m.arange(t).reshape(1, t).lte(m.arange(t).reshape(t, 1)).toType(DataType.FLOAT32, false)
                    .sub(1f).mul(Float.MAX_VALUE);
            int group = c.numAttentionHeads() / c.numKeyValueHeads();
            float scale = ALPHA / RANK;
            for (int l = 0; l < c.numHiddenLayers(); l++) {
                String p = "model.layers." + l + ".";
                NDArray x = rms(h, w.get(p + "input_layernorm.weight"));
                NDArray q = heads(lora(x, p, "q_proj", l, scale), c.numAttentionHeads(), b, t);
                NDArray k = heads(Linear.linear(x, w.get(p + "self_attn.k_proj.weight")).singletonOrThrow(),
                        c.numKeyValueHeads(), b, t);
                NDArray v = heads(lora(x, p, "v_proj", l, scale), c.numKeyValueHeads(), b, t);
                q = rotate(q, cos, sin);
                k = rotate(k, cos, sin);
                k = k.expandDims(2).broadcast(new Shape(b, c.numKeyValueHeads(), group, t, d))
                        .reshape(b, c.numAttentionHeads(), t, d);
                v = v.expandDims(2).broadcast(new Shape(b, c.numKeyValueHeads(), group, t, d))
                        .reshape(b, c.numAttentionHeads(), t, d);
                NDArray probs = q.matMul(k.transpose(0, 1, 3, 2)).mul((float) (1 / Math.sqrt(d))).add(mask).softmax(-1);
                NDArray context = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) c.numAttentionHeads() * d);
                h = h.add(Linear.linear(context, w.get(p + "self_attn.o_proj.weight")).singletonOrThrow());
                NDArray y = rms(h, w.get(p + "post_attention_layernorm.weight"));
                NDArray gate = Linear.linear(y, w.get(p + "mlp.gate_proj.weight")).singletonOrThrow();
                NDArray up = Linear.linear(y, w.get(p + "mlp.up_proj.weight")).singletonOrThrow();
                NDArray act = gate.mul(gate.getNDArrayInternal().sigmoid()).mul(up);
                h = h.add(Linear.linear(act, w.get(p + "mlp.down_proj.weight")).singletonOrThrow());
            }
            return Linear.linear(rms(h, w.get("model.norm.weight")), w.get("lm_head.weight")).singletonOrThrow();
        }

        private NDArray lora(NDArray x, String prefix, String target, int layer, float scale) {
            NDArray[] ab = adapters.get(layer + target);
            NDArray base = Linear.linear(x, w.get(prefix + "self_attn." + target + ".weight")).singletonOrThrow();
            return base.add(Linear.linear(Linear.linear(x, ab[0]).singletonOrThrow(), ab[1]).singletonOrThrow().mul(scale));
        }

        private NDArray heads(NDArray x, int count, long b, long t) {
            return x.reshape(b, t, count, c.headDim()).transpose(0, 2, 1, 3);
        }

        private static NDArray rotate(NDArray x, NDArray cos, NDArray sin) {
            long half = x.getShape().get(3) / 2;
            NDArray rotated = x.get(new NDIndex("..., {}:", half)).neg().concat(x.get(new NDIndex("..., :{}", half)), -1);
            return x.mul(cos).add(rotated.mul(sin));
        }

        private NDArray rms(NDArray x, NDArray scale) {
            return x.div(x.square().mean(new int[] {-1}, true).add(c.rmsNormEps()).sqrt()).mul(scale);
        }
    }

    private static double median(List<FineTuning.StepPhases> phases,
            java.util.function.ToDoubleFunction<FineTuning.StepPhases> phase) {
        List<Double> values = new ArrayList<>();
        phases.forEach(p -> values.add(phase.applyAsDouble(p)));
        return median(values);
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        sorted.sort(Double::compare);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private void write(Map<String, Object> results) throws Exception {
        Files.createDirectories(out);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        Files.writeString(out.resolve("decoder-results.json"), json.writeValueAsString(results));
        @SuppressWarnings("unchecked")
        Map<String, Object> sft = (Map<String, Object>) results.get("sft_update");
        @SuppressWarnings("unchecked")
        Map<String, Object> gen = (Map<String, Object>) results.get("generation");
        String md = String.format(Locale.ROOT, """
                # Decoder benchmark

                Measured by `DecoderBenchmark` (integration-tests) in one JVM on DJL's PyTorch engine, CPU, with
                the settings in `decoder-results.json`: a LLaMA-style model of %d layers, hidden %d, 8 query and
                4 key/value heads, vocabulary 32,000, random weights; LoRA r=%d (alpha %d) on `q_proj` and `v_proj`.

                ## A LoRA supervised fine-tuning update, batch %d x sequence %d

                Forward, the next-token loss, backward, clipping at norm 1 and AdamW, timed in %d alternating
                rounds after two warm-up updates each (medians):

                | | ms per update |
                |---|---|
                | peft4j (`FineTuning` with `CausalLmTask`: blocks, the LoRA layers, the task's batch) | %.1f |
                | the same update as raw NDArray operations (same weights, engine and optimizer) | %.1f |
                | ratio | %.3f |

                ## Greedy generation, %d new tokens after a %d-token prompt, batch 1

                | | tokens per second |
                |---|---|
                | with the key/value cache (one new token per step) | %.1f |
                | without (the whole sequence every step) | %.1f |
                | speed-up | %.2fx |

                Both choose the same tokens (checked by the benchmark).
                """, layers, hidden, RANK, (int) ALPHA, batch, sequence, rounds, sft.get("peft4j_ms"), sft.get("raw_ndarray_ms"),
                sft.get("ratio"), newTokens, prompt, gen.get("tokens_per_second_cached"), gen.get("tokens_per_second_uncached"),
                gen.get("speedup"));
        Files.writeString(out.resolve("decoder-results.md"), md);
    }
}
