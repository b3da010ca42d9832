package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.data.chat.ChatDatasets;
import org.peft4j.api.data.chat.Conversation;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.chat.ChatTemplate;
import org.peft4j.djl.chat.NamedTemplate;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.GenerationTokenizer;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.models.CausalLanguageModel;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.DecoderDirectory;
import org.peft4j.djl.models.DecoderFamilies;
import org.peft4j.djl.sft.CausalLmTask;
import org.peft4j.djl.sft.SftEncoder;
import org.peft4j.djl.sft.SftExample;
import org.peft4j.djl.train.FineTuning;

/**
 * {@code peft4j train} with {@code stage: sft}: supervised fine-tuning of a causal language model
 * (a Hugging Face directory of a supported decoder family) as LLaMA-Factory's {@code stage: sft}
 * does it. The {@code dataset} (alpaca or sharegpt, {@code formatting}) is printed with the model's
 * chat template or a named {@code template}, cut to {@code cutoff_len}, and only the answers are
 * learned unless {@code train_on_prompt}; {@code val_size} of the rows (seeded) is held out for the
 * dev loss and next-token accuracy. LoRA, IA3, prefix- and prompt-tuning write the adapter with
 * {@code task_type: CAUSAL_LM}; full and freeze (the last {@code freeze_trainable_layers} layers)
 * write the whole model as a Hugging Face directory.
 */
final class SftRun {
    private final Peft4j.Console console;

    SftRun(Peft4j.Console console) {
        this.console = console;
    }

    /**
     * The pieces of a decoder run that training, predict, chat and export share.
     *
     * @param directory the model directory the weights came from
     * @param adapter the adapter loaded on the model, or null for none
     */
    record Decoder(Path directory, CausalLanguageModel model, GenerationTokenizer tokenizer, ChatTemplate template,
            GenerationConfig generation, PeftModel adapter) implements AutoCloseable {
        @Override
        public void close() {
            tokenizer.close();
        }
    }

    /**
     * Loads the decoder of {@code modelDir} into {@code model}, with its tokenizer, the chat
     * template ({@code named}, or the model's own) and its generation config; the template's stop
     * words join the end-of-sequence tokens.
     *
     * @throws IllegalArgumentException naming what is missing or unsupported
     */
    static Decoder loadDecoder(Path modelDir, NamedTemplate named, Model model) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            throw new IllegalArgumentException("model_name_or_path " + modelDir + (Files.exists(modelDir)
                    ? " is not a directory" : " does not exist") + "; stage sft needs a Hugging Face model directory"
                    + " (config.json, model.safetensors, tokenizer.json)");
        }
        CausalLanguageModel language = DecoderFamilies.fromHuggingFace(modelDir, model.getNDManager());
        model.setBlock(language);
        GenerationTokenizer tokenizer = GenerationTokenizer.fromModelDirectory(modelDir);
        try {
            ChatTemplate template = named != null ? ChatTemplate.named(named, modelDir)
                    : ChatTemplate.fromModelDirectory(modelDir);
            GenerationConfig generation = GenerationConfig.builder(modelDir).build();
            if (named != null && !named.stopWords().isEmpty()) {
                List<Long> eos = new ArrayList<>(generation.eosTokenIds());
                tokenizer.tokenIds(named.stopWords()).stream().filter(id -> !eos.contains(id)).forEach(eos::add);
                generation = generation.toBuilder().optEosTokenIds(eos).build();
            }
            return new Decoder(modelDir, language, tokenizer, template, generation, null);
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /**
     * Loads what an sft run in {@code runDir} trained: its base with the adapter on it, or the whole
     * model it wrote (full, freeze, or an export), with the run's chat template.
     *
     */
    static Decoder loadRun(Path runDir, RunRecord run, Model model) throws IOException {
        NamedTemplate named = run.template() != null ? NamedTemplate.of(run.template()) : null;
        if (!run.holdsAdapter()) {
            return loadDecoder(runDir, named, model);
        }
        Decoder decoder = loadDecoder(Path.of(run.modelNameOrPath()), named, model);
        try {
            return new Decoder(decoder.directory(), decoder.model(), decoder.tokenizer(), decoder.template(),
                    decoder.generation(), Peft.load(decoder.model(), runDir));
        } catch (IOException | RuntimeException e) {
            decoder.close();
            throw e;
        }
    }

    /** Trains as {@code file} says and writes the output directory. */
    void run(ConfigFile file, TrainArguments args) throws IOException {
        List<Conversation> rows = ChatDatasets.read(args.datasetFile(), ChatDatasets.Format.of(args.formatting()));
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(args.seed()));
        int dev = (int) Math.round(rows.size() * args.valSize());
        if (rows.size() - dev < 1) {
            throw new IllegalArgumentException(args.datasetFile() + " has " + rows.size() + " rows, none left to train"
                    + " on after val_size " + args.valSize());
        }
        try (OutputLock lock = OutputLock.acquire(args.outputDirectory());
                Model model = Model.newInstance("peft4j-sft")) {
            Decoder decoder;
            try {
                decoder = loadDecoder(Path.of(args.modelNameOrPath()), args.namedTemplate(), model);
            } catch (IllegalArgumentException e) {
                throw file.error("model_name_or_path", e.getMessage());
            }
            try (decoder) {
                SftEncoder encoder = SftEncoder.builder().setTemplate(decoder.template())
                        .setTokenizer(decoder.tokenizer()::encodeWithoutSpecialTokens).optCutoffLen(args.cutoffLen())
                        .optTrainOnPrompt(args.trainOnPrompt()).build();
                List<SftExample> train = new ArrayList<>();
                List<SftExample> held = new ArrayList<>();
                for (int k = 0; k < order.size(); k++) {
                    int i = order.get(k);
                    SftExample example = encoder.encode(rows.get(i), args.datasetFile() + " row " + (i + 1));
                    (k < dev ? held : train).add(example);
                }
                if (args.maxSamples() != null) {
                    train = train.subList(0, Math.min(train.size(), args.maxSamples()));
                    held = held.subList(0, Math.min(held.size(), args.maxSamples()));
                }
                train(file, args, model, decoder, train, held);
            }
        }
    }

    private void train(ConfigFile file, TrainArguments args, Model model, Decoder decoder, List<SftExample> train,
            List<SftExample> dev) throws IOException {
        PrintStream out = console.out();
        CausalLanguageModel language = decoder.model();
        // LLaMA's and Qwen2's config keys, then GPT-2's
        JsonNode config = Checkpoint.readConfig(decoder.directory());
        try {
            args.checkFits(config.path("max_position_embeddings").asInt(config.path("n_positions").asInt(Integer.MAX_VALUE)),
                    config.path("hidden_size").asInt(config.path("n_embd").asInt(Integer.MAX_VALUE)),
                    language.numLayers(), args.modelNameOrPath());
        } catch (TrainArguments.BadValueException e) {
            throw file.error(e.key(), e.getMessage());
        }
        Engine.getInstance().setRandomSeed(args.seed());
        long start = System.nanoTime();
        long learned = train.stream().mapToLong(SftExample::learnedTokens).sum();
        out.printf(Locale.ROOT, "%s on %s (%s): %d train, %d dev conversations; %,d answer tokens to learn%n",
                args.finetuningType(), args.modelNameOrPath(), language.modelType(), train.size(), dev.size(), learned);
        long pad = decoder.generation().padTokenId().orElse(decoder.generation().eosTokenIds().isEmpty() ? 0
                : decoder.generation().eosTokenIds().get(0));
        CausalLmTask task = new CausalLmTask(pad);
        PeftModel peft = null;
        FineTuning<SftExample> run;
        if (args.trainsAdapter()) {
            if (args.promptTuningInitText() != null) {
                throw file.error("prompt_tuning_init_text", "prompt_tuning_init_text is not supported with stage sft"
                        + " yet; leave it out for a random start");
            }
            try {
                peft = Peft.apply(language, peftConfig(args, language.modelType()));
            } catch (IllegalArgumentException e) {
                throw file.error(args.finetuningType().equals("lora") ? "lora_target" : "finetuning_type", e.getMessage());
            }
            run = new FineTuning<>(model, peft, task);
        } else {
            List<Parameter> trainable = unfreeze(language, args);
            run = new FineTuning<>(model, () -> trainable, model::newTrainer, task);
        }
        long trainable = 0;
        for (Parameter p : StateDicts.namedParameters(language).values()) {
            trainable += p.requiresGradient() ? p.getArray().size() : 0;
        }
        out.printf(Locale.ROOT, "trainable parameters: %,d%n", trainable);
        run.fit(train, dev, TrainCommand.settings(args, console.err()), r -> out.println(r.hasDev()
                ? String.format(Locale.ROOT, "epoch %d: train loss %.4f, dev loss %.4f, dev accuracy %.4f (%.0f s)",
                        r.epoch(), r.meanLoss(), r.devLoss(), r.devMetric(CausalLmTask.ACCURACY), r.seconds())
                : String.format(Locale.ROOT, "epoch %d: train loss %.4f (%.0f s)", r.epoch(), r.meanLoss(), r.seconds())));
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
        results.put("trainable_params", trainable);
        results.put("train_loss", run.evaluate(train, args.perDeviceTrainBatchSize()).loss());
        if (!dev.isEmpty()) {
            var evaluation = run.evaluate(dev, args.perDeviceTrainBatchSize());
            results.put("eval_loss", evaluation.loss());
            results.put("eval_accuracy", evaluation.metric(CausalLmTask.ACCURACY));
        }
        List<String> nonFinite = Metrics.nonFinite(results);
        if (!nonFinite.isEmpty()) {
            throw new IllegalStateException(String.format(Locale.ROOT, "training diverged: %s after training; no model"
                    + " written; lower the learning rate (learning_rate %.3g)", String.join(", ", nonFinite),
                    args.learningRate()));
        }
        Path dir = args.outputDirectory();
        if (peft != null) {
            peft.saveAdapter(dir);
        } else {
            DecoderDirectory.save(language, decoder.directory(), dir);
        }
        RunRecord.of(args, List.of()).write(dir);
        Metrics.write(results, dir.resolve("all_results.json"));
        out.printf(Locale.ROOT, "train loss %.4f%s%n", (Double) results.get("train_loss"), dev.isEmpty() ? ""
                : String.format(Locale.ROOT, ", eval loss %.4f, eval accuracy %.4f", results.get("eval_loss"),
                        results.get("eval_accuracy")));
        out.println((peft != null ? "adapter" : "model") + " written to " + dir);
    }

    /**
     * The adapter config of the run: {@link TrainCommand#peftConfig}, with PEFT's default targets
     * for the model type when {@code lora_target} is left out.
     */
    private static PeftConfig peftConfig(TrainArguments args, String modelType) {
        List<String> targets = args.loraTargets();
        return TrainCommand.peftConfig(args, targets.isEmpty() && PeftMethods.forFinetuningType(args.finetuningType())
                .finetuningType().equals("lora") ? LoraConfig.defaultTargetModules(modelType) : targets);
    }

    /**
     * Unfreezes what full and freeze train: every parameter, or those of the last
     * {@code freeze_trainable_layers} decoder layers, found as LLaMA-Factory finds them (a parameter
     * whose name holds {@code .N.} for a trainable layer N, {@code model/adapter.py},
     * {@code _setup_freeze_tuning}).
     */
    private static List<Parameter> unfreeze(CausalLanguageModel language, TrainArguments args) {
        int layers = language.numLayers();
        List<Parameter> trainable = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(language).entrySet()) {
            boolean trains = args.finetuningType().equals("full");
            for (int l = layers - args.freezeTrainableLayers(); l < layers && !trains; l++) {
                trains = e.getKey().contains("." + l + ".");
            }
            e.getValue().freeze(!trains);
            if (trains) {
                trainable.add(e.getValue());
            }
        }
        return trainable;
    }
}
