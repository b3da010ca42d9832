package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.TextEncoder;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TaggingMetrics;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.ProgressBar;
import org.peft4j.djl.train.TrainingTask;

/**
 * {@code peft4j train} with {@code task_type: TOKEN_CLS}: tags each word of a CoNLL or JSON Lines
 * {@code dataset} ({@link TaggedSentences}) with a {@link TokenClassifier} and an adapter (lora,
 * prefix or prompt), holding out {@code val_size} of the sentences as dev data. It writes to
 * {@code output_dir} the adapter ({@code task_type: TOKEN_CLS}, {@code classifier} saved with it),
 * the tags in class order as the run record's {@code labels}, {@code trainer_log.jsonl},
 * {@code training_loss.png}, {@code best/} and {@code all_results.json} with the dev entity
 * precision, recall and F1 (seqeval's) and word accuracy, and prints them with each entity type's.
 * {@code peft4j eval} of such a directory scores a CoNLL or JSON Lines file the same way ({@link #evaluate}),
 * and {@code peft4j predict} tags the words of one ({@link #predict}). The base may be any encoder
 * family of {@link org.peft4j.djl.models.EncoderFamilies}.
 */
final class TokenClassificationRun {
    /** Sentences per forward pass in eval and predict. */
    private static final int BATCH = 32;
    /** One JSON object per line. */
    private static final ObjectMapper JSON_LINE = new ObjectMapper();

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
        if (tags.size() < 2) {
            throw file.error("dataset", args.datasetFile() + ": the training sentences have one tag only, " + tags
                    + "; a tagger needs two or more");
        }
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
            TextEncoder base = encoder.loadEncoder(model.getNDManager());
            try {
                args.checkFits(base.maxTokens(), base.hiddenSize(), base.numLayers(), encoder.toString());
            } catch (TrainArguments.BadValueException e) {
                throw file.error(e.key(), e.getMessage());
            }
            out.printf(Locale.ROOT, "%s TOKEN_CLS on %s: %d train, %d dev sentences; tags %s%n", args.finetuningType(),
                    encoder, train.size(), dev.size(), tags);
            Engine.getInstance().setRandomSeed(args.seed());
            long start = System.nanoTime();
            TokenClassifier classifier = new TokenClassifier(base, tags.size()).initializeHead(model.getNDManager());
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
        try (Tagger tagger = Tagger.load(directory, record)) {
            Map<String, Object> results = score(new FineTuning<>(tagger.model, tagger.peft, tagger.task), tagger.task,
                    rows, BATCH, console.err());
            console.out().println(Metrics.json(results));
        }
    }

    /**
     * {@code peft4j predict} of a tagger: tags each word of the sentences of {@code input} (CoNLL:
     * the first column of each line is the word, other columns such as gold tags are ignored; or
     * JSON Lines with {@code tokens}) and writes each word with its predicted tag, in CoNLL form
     * (a word and its tag per line, a blank line after each sentence) or, when {@code output} (or
     * without it, {@code input}) is JSON Lines, as {@code {"tokens": [...], "tags": [...]}} per
     * sentence; to standard output if {@code output} is null. Words past the token limit
     * ({@code cutoff_len}), which the model never sees, are tagged {@code O}, with a note on the
     * error stream. Returns the exit code.
     */
    int predict(Path directory, RunRecord record, Path input, Path output) throws IOException {
        List<List<String>> sentences = readWords(input);
        List<List<String>> tagged = new ArrayList<>(sentences.size());
        int unseen = 0;
        try (Tagger tagger = Tagger.load(directory, record);
                ProgressBar bar = new ProgressBar(console.err(), "predict", sentences.size());
                NDManager scope = tagger.model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            String anyTag = record.labels().get(0); // the tags of the rows only mark each word's first token
            for (int from = 0; from < sentences.size(); from += BATCH) {
                List<TaggedSentence> chunk = new ArrayList<>();
                for (List<String> words : sentences.subList(from, Math.min(sentences.size(), from + BATCH))) {
                    chunk.add(new TaggedSentence(words, Collections.nCopies(words.size(), anyTag)));
                }
                try (NDManager batchScope = scope.newSubManager()) {
                    TrainingTask.Batch batch = tagger.task.batch(batchScope, chunk);
                    NDArray logits = tagger.classifier.forward(ps, batch.inputs(), false).singletonOrThrow();
                    List<TaggingTask.Prediction> predictions = tagger.task.predictions(chunk, batch, logits);
                    for (int i = 0; i < chunk.size(); i++) {
                        List<String> words = chunk.get(i).tokens();
                        List<String> tags = new ArrayList<>(Collections.nCopies(words.size(), "O"));
                        WordTokenizer.WordEncoding e = tagger.words.encode(words);
                        int k = 0;
                        for (int j = 0; j < e.length(); j++) {
                            if (e.startsWord(j)) {
                                tags.set((int) e.wordIds()[j], predictions.get(i).tags().get(k++));
                            }
                        }
                        unseen += words.size() - k;
                        tagged.add(tags);
                    }
                }
                bar.update(Math.min(sentences.size(), from + BATCH), "");
            }
        }
        if (unseen > 0) {
            console.err().printf(Locale.ROOT, "%d words past cutoff_len %d were not seen by the model and are tagged O%n",
                    unseen, record.cutoffLen());
        }
        boolean jsonl = isJsonLines(output != null ? output : input);
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < sentences.size(); s++) {
            if (jsonl) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("tokens", sentences.get(s));
                row.put("tags", tagged.get(s));
                sb.append(JSON_LINE.writeValueAsString(row)).append('\n');
            } else {
                for (int w = 0; w < sentences.get(s).size(); w++) {
                    sb.append(sentences.get(s).get(w)).append('\t').append(tagged.get(s).get(w)).append('\n');
                }
                sb.append('\n');
            }
        }
        if (output == null) {
            console.out().print(sb);
        } else {
            byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(output, out -> out.write(bytes));
            console.out().println(sentences.size() + " tagged sentences written to " + output);
        }
        return 0;
    }

    /** Whether {@code file} is JSON Lines by its name ({@code .jsonl} or {@code .json}), as {@link TaggedSentences#read} tells. */
    private static boolean isJsonLines(Path file) {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        return name.endsWith(".jsonl") || name.endsWith(".json");
    }

    /**
     * The sentences of a file to tag, as words: JSON Lines objects' {@code tokens} ({@code tags}
     * ignored), or CoNLL lines' first column, with blank lines between sentences and
     * {@code -DOCSTART-} lines skipped.
     *
     * @throws IllegalArgumentException naming the file and line of what is malformed, or if there are no sentences
     */
    static List<List<String>> readWords(Path file) throws IOException {
        List<List<String>> out = new ArrayList<>();
        List<String> lines = TextFiles.readUtf8(file, "input").lines().toList();
        List<String> sentence = new ArrayList<>();
        boolean jsonl = isJsonLines(file);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (jsonl) {
                if (!line.isEmpty()) {
                    out.add(jsonTokens(line, file + ", line " + (i + 1)));
                }
            } else if (line.isEmpty() || line.split("\\s+")[0].equals("-DOCSTART-")) {
                if (!sentence.isEmpty()) {
                    out.add(sentence);
                    sentence = new ArrayList<>();
                }
            } else {
                sentence.add(line.split("\\s+")[0]);
            }
        }
        if (!sentence.isEmpty()) {
            out.add(sentence);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + " has no sentences to tag");
        }
        return out;
    }

    /** The {@code tokens} of one JSON Lines object. */
    private static List<String> jsonTokens(String line, String where) {
        JsonNode node;
        try {
            node = Metrics.JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(where + ": not valid JSON: " + e.getOriginalMessage());
        }
        JsonNode tokens = node.path("tokens");
        if (!tokens.isArray() || tokens.isEmpty()) {
            throw new IllegalArgumentException(where + ": expected an object with \"tokens\", a non-empty array of"
                    + " strings");
        }
        List<String> words = new ArrayList<>();
        for (JsonNode t : tokens) {
            if (!t.isTextual()) {
                throw new IllegalArgumentException(where + ": \"tokens\" item " + (words.size() + 1)
                        + " is not a string: " + t);
            }
            words.add(t.asText());
        }
        return words;
    }

    /**
     * A tagger that {@code peft4j train} wrote, loaded again: its base of any family with a new head,
     * the adapter, the word tokenizer and the task over the run's tags.
     */
    private static final class Tagger implements AutoCloseable {
        final Model model;
        final TokenClassifier classifier;
        final PeftModel peft;
        final WordTokenizer words;
        final TaggingTask task;

        private Tagger(Model model, TokenClassifier classifier, PeftModel peft, WordTokenizer words, List<String> tags) {
            this.model = model;
            this.classifier = classifier;
            this.peft = peft;
            this.words = words;
            this.task = new TaggingTask(words, tags);
        }

        /**
         * Loads the tagger of {@code record} from {@code directory}.
         *
         * @throws IllegalArgumentException if the base does not resolve, or a file of the run is missing
         */
        static Tagger load(Path directory, RunRecord record) throws IOException {
            PretrainedEncoder encoder = TrainedModel.encoder(record.modelNameOrPath());
            byte[] tokenizerJson = TokenizerFiles.read(encoder).get(TokenizerFiles.TOKENIZER);
            Model model = Model.newInstance("peft4j");
            WordTokenizer words = null;
            try {
                words = WordTokenizer.fromTokenizerJson(new ByteArrayInputStream(tokenizerJson), record.cutoffLen());
                TokenClassifier classifier = new TokenClassifier(encoder.loadEncoder(model.getNDManager()),
                        record.labels().size()).initializeHead(model.getNDManager());
                model.setBlock(classifier);
                return new Tagger(model, classifier, Peft.load(classifier, directory), words, record.labels());
            } catch (IOException | RuntimeException e) {
                if (words != null) {
                    words.close();
                }
                model.close();
                if (e instanceof NoSuchFileException missing) {
                    throw TrainedModel.damaged(directory, missing.getFile() + " is missing");
                }
                throw e;
            }
        }

        @Override
        public void close() {
            words.close();
            model.close();
        }
    }
}
