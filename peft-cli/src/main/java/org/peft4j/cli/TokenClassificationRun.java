package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import java.io.ByteArrayInputStream;
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
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.data.TaggedSentences;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TaggingMetrics;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.FineTuning;

/**
 * {@code peft4j train} with {@code task_type: TOKEN_CLS}: tags each word of a CoNLL or JSON Lines
 * {@code dataset} ({@link TaggedSentences}) with a {@link TokenClassifier} and an adapter (lora,
 * prefix or prompt), holding out {@code val_size} of the sentences as dev data. It writes to
 * {@code output_dir} the adapter ({@code task_type: TOKEN_CLS}, {@code classifier} saved with it),
 * the tags in class order as the run record's {@code labels}, {@code trainer_log.jsonl},
 * {@code training_loss.png}, {@code best/} and {@code all_results.json} with the dev entity
 * precision, recall and F1 (seqeval's) and word accuracy, and prints them with each entity type's.
 * {@code peft4j eval} of such a directory scores a CoNLL or JSON Lines file the same way ({@link #evaluate}).
 */
final class TokenClassificationRun {
    private final Peft4j.Console console;

    TokenClassificationRun(Peft4j.Console console) {
        this.console = console;
    }

    /**
     * Trains as the config says.
     *
     * @throws IllegalArgumentException naming the key (and its line) whose value this task cannot take
     */
    void run(ConfigFile file, TrainArguments args) throws IOException {
        if (!args.trainsAdapter()) {
            throw file.error("finetuning_type", "task_type TOKEN_CLS trains an adapter (lora, prefix or prompt);"
                    + " finetuning_type " + args.finetuningType() + " is not supported for it");
        }
        if (args.adapterNameOrPath() != null) {
            throw file.error("adapter_name_or_path", "task_type TOKEN_CLS starts a new adapter; adapter_name_or_path"
                    + " is not supported for it");
        }
        PrintStream out = console.out();
        List<TaggedSentence> sentences = TaggedSentences.read(args.datasetFile());
        List<TaggedSentence> train = new ArrayList<>(sentences);
        Collections.shuffle(train, new Random(args.seed()));
        int held = (int) Math.round(train.size() * args.valSize());
        List<TaggedSentence> dev = train.subList(0, held);
        train = train.subList(held, train.size());
        if (args.maxSamples() != null) {
            train = train.subList(0, Math.min(train.size(), args.maxSamples()));
            dev = dev.subList(0, Math.min(dev.size(), args.maxSamples()));
        }
        if (train.isEmpty()) {
            throw file.error("dataset", args.datasetFile() + " has no sentences to train on");
        }
        List<String> tags = TaggedSentences.tags(train);
        PretrainedEncoder encoder;
        try {
            encoder = TrainedModel.encoder(args.modelNameOrPath());
        } catch (IllegalArgumentException e) {
            throw file.error("model_name_or_path", e.getMessage());
        }
        byte[] tokenizerJson = TokenizerFiles.read(encoder).get(TokenizerFiles.TOKENIZER);
        try (OutputLock lock = OutputLock.acquire(args.outputDirectory());
                Model model = Model.newInstance("peft4j");
                WordTokenizer words = WordTokenizer.fromTokenizerJson(new ByteArrayInputStream(tokenizerJson),
                        args.cutoffLen());
                BertTokenizer texts = encoder.tokenizer(args.cutoffLen())) {
            BertModel bert = encoder.load(model.getNDManager());
            try {
                args.checkFits(bert.config(), encoder.toString());
            } catch (TrainArguments.BadValueException e) {
                throw file.error(e.key(), e.getMessage());
            }
            out.printf(Locale.ROOT, "%s TOKEN_CLS on %s: %d train, %d dev sentences; tags %s%n", args.finetuningType(),
                    encoder, train.size(), dev.size(), tags);
            Engine.getInstance().setRandomSeed(args.seed());
            long start = System.nanoTime();
            TokenClassifier classifier = new TokenClassifier(bert, tags.size()).initializeHead(model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.apply(classifier, TrainCommand.peftConfig(args), PeftModel.DEFAULT_ADAPTER, texts);
            TaggingTask task = new TaggingTask(words, tags);
            FineTuning<TaggedSentence> run = new FineTuning<>(model, peft, task);
            run.fit(train, dev, TrainCommand.settings(args, console.err()), r -> out.println(r.hasDev()
                    ? String.format(Locale.ROOT, "epoch %d: train loss %.4f, dev loss %.4f, dev entity P %.4f R %.4f"
                            + " F1 %.4f (%.0f s)", r.epoch(), r.meanLoss(), r.devLoss(), r.devMetric(TaggingTask.PRECISION),
                            r.devMetric(TaggingTask.RECALL), r.devMetric(TaggingTask.F1), r.seconds())
                    : String.format(Locale.ROOT, "epoch %d: train loss %.4f (%.0f s)", r.epoch(), r.meanLoss(),
                            r.seconds())));
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("train_runtime", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
            if (!dev.isEmpty()) {
                results.putAll(score(run, task, dev, args.perDeviceTrainBatchSize(), out));
            }
            Path dir = args.outputDirectory();
            RunRecord.of(args, tags).write(dir);
            peft.saveAdapter(dir);
            Metrics.write(results, dir.resolve("all_results.json"));
            out.println("adapter written to " + dir);
        }
    }

    /**
     * Scores a trained tagger on {@code rows}: {@code eval_loss}, the entity {@code eval_precision},
     * {@code eval_recall}, {@code eval_f1}, the word {@code eval_accuracy} and each type's
     * {@code eval_TYPE_f1}, printed to {@code report} with each type's figures.
     *
     * @throws IllegalStateException if the loss is not finite (the weights diverged)
     */
    private Map<String, Object> score(FineTuning<TaggedSentence> run, TaggingTask task, List<TaggedSentence> rows,
            int batchSize, PrintStream report) {
        TaggingTask.Scorer scorer = run.evaluate(rows, batchSize, task.evaluator(), console.err(), "eval");
        double loss = scorer.result().loss();
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("eval_loss is " + loss + ": the model's outputs are not finite; its weights"
                    + " diverged in training (lower the learning rate)");
        }
        TaggingMetrics m = scorer.metrics();
        Map<String, Object> results = new LinkedHashMap<>();
        results.put("eval_loss", Metrics.round(loss));
        results.put("eval_precision", Metrics.round(m.precision()));
        results.put("eval_recall", Metrics.round(m.recall()));
        results.put("eval_f1", Metrics.round(m.f1()));
        results.put("eval_accuracy", Metrics.round(m.accuracy()));
        report.printf(Locale.ROOT, "eval entities: precision %.4f, recall %.4f, F1 %.4f; word accuracy %.4f%n",
                m.precision(), m.recall(), m.f1(), m.accuracy());
        m.perType().forEach((type, t) -> {
            report.printf(Locale.ROOT, "  %-12s precision %.4f, recall %.4f, F1 %.4f (%d)%n", type, t.precision(),
                    t.recall(), t.f1(), t.support());
            results.put("eval_" + type + "_f1", Metrics.round(t.f1()));
        });
        return results;
    }

    /** Whether {@code directory} holds a token-classification adapter ({@code task_type: TOKEN_CLS}). */
    static boolean holdsTagger(Path directory) throws IOException {
        Path config = directory.resolve(AdapterCheckpoint.CONFIG_FILE);
        return Files.isRegularFile(config)
                && "TOKEN_CLS".equals(Metrics.JSON.readTree(config.toFile()).path("task_type").asText());
    }

    /**
     * {@code peft4j eval} of a tagger that {@code peft4j train} wrote: loads the base and the adapter
     * as the run recorded them, scores every sentence of {@code file} (CoNLL or JSON Lines; a seeded
     * sample of {@code maxSamples} if set) and prints the results as JSON, each type's figures on the
     * error stream.
     *
     * @throws IllegalArgumentException naming a tag the model never learned, or a malformed line
     */
    void evaluate(Path directory, RunRecord record, Path file, Integer maxSamples) throws IOException {
        List<TaggedSentence> rows = new ArrayList<>(TaggedSentences.read(file));
        if (rows.isEmpty()) {
            throw new IllegalArgumentException(file + " has no sentences to evaluate");
        }
        if (maxSamples != null && rows.size() > maxSamples) {
            Collections.shuffle(rows, new Random(record.seed()));
            rows = rows.subList(0, maxSamples);
        }
        PretrainedEncoder encoder = TrainedModel.encoder(record.modelNameOrPath());
        byte[] tokenizerJson = TokenizerFiles.read(encoder).get(TokenizerFiles.TOKENIZER);
        try (Model model = Model.newInstance("peft4j");
                WordTokenizer words = WordTokenizer.fromTokenizerJson(new ByteArrayInputStream(tokenizerJson),
                        record.cutoffLen())) {
            TokenClassifier classifier = new TokenClassifier(encoder.load(model.getNDManager()), record.labels().size())
                    .initializeHead(model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.load(classifier, directory);
            TaggingTask task = new TaggingTask(words, record.labels());
            Map<String, Object> results = score(new FineTuning<>(model, peft, task), task, rows, 32, console.err());
            console.out().println(Metrics.json(results));
        }
    }
}
