package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.peft4j.api.data.chat.ChatDatasets;
import org.peft4j.api.data.chat.Conversation;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.Generator;
import org.peft4j.djl.sft.SftEncoder;
import org.peft4j.djl.sft.SimilarityMetrics;

/**
 * {@code peft4j predict} on an sft run, as LLaMA-Factory's {@code do_predict} with
 * {@code predict_with_generate} does it: each conversation's last answer is generated from its
 * prompt (greedy unless the model's generation config samples), {@value #FILE} gets one line per
 * row with {@code prompt} (its text, special tokens kept), {@code predict} and {@code label} (the
 * generated and the reference answer, special tokens left out), and {@value #RESULTS} the scores
 * {@code predict_bleu-4}, {@code predict_rouge-1}, {@code predict_rouge-2} and
 * {@code predict_rouge-l} ({@link SimilarityMetrics}).
 */
final class SftPredictions {
    /** LLaMA-Factory's file of generated answers. */
    static final String FILE = "generated_predictions.jsonl";
    /** LLaMA-Factory's file of prediction scores. */
    static final String RESULTS = "predict_results.json";
    /** The prompts generated together (left-padded). */
    private static final int BATCH = 8;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Peft4j.Console console;

    SftPredictions(Peft4j.Console console) {
        this.console = console;
    }

    /**
     * Generates the answers of {@code input}'s conversations with the run in {@code runDir} and
     * writes {@value #FILE} and {@value #RESULTS} into {@code outputDir}.
     *
     * @param maxNewTokens the longest answer, or null for the generation config's
     */
    void run(Path runDir, RunRecord run, Path input, Path outputDir, Integer maxNewTokens) throws IOException {
        List<Conversation> rows = ChatDatasets.read(input, ChatDatasets.Format.of(run.formatting()));
        try (Model model = Model.newInstance("peft4j-predict");
                SftRun.Decoder decoder = SftRun.loadRun(runDir, run, model)) {
            SftEncoder encoder = SftEncoder.builder().setTemplate(decoder.template())
                    .setTokenizer(decoder.tokenizer()::encodeWithoutSpecialTokens).optCutoffLen(run.cutoffLen()).build();
            List<long[]> prompts = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                long[][] split = encoder.promptAndAnswer(rows.get(i), input + " row " + (i + 1));
                prompts.add(split[0]);
                labels.add(decoder.tokenizer().decode(split[1]));
            }
            GenerationConfig config = maxNewTokens == null ? decoder.generation()
                    : decoder.generation().toBuilder().optMaxNewTokens(maxNewTokens).build();
            Generator generator = new Generator(decoder.model(), config);
            StringBuilder lines = new StringBuilder();
            List<String> predictions = new ArrayList<>();
            for (int from = 0; from < prompts.size(); from += BATCH) {
                List<long[]> batch = prompts.subList(from, Math.min(prompts.size(), from + BATCH));
                long[][] generated;
                try (NDManager scope = model.getNDManager().newSubManager()) {
                    generated = generator.generate(scope, batch);
                }
                for (int b = 0; b < batch.size(); b++) {
                    String predict = decoder.tokenizer().decode(generated[b]);
                    predictions.add(predict);
                    ObjectNode line = JSON.createObjectNode();
                    line.put("prompt", decoder.tokenizer().decode(batch.get(b), false));
                    line.put("predict", predict);
                    line.put("label", labels.get(from + b));
                    lines.append(JSON.writeValueAsString(line)).append('\n');
                }
                console.err().printf(Locale.ROOT, "generated %d of %d%n", from + batch.size(), prompts.size());
            }
            SimilarityMetrics.Scores scores = SimilarityMetrics.score(predictions, labels);
            Map<String, Object> results = new LinkedHashMap<>();
            results.put("predict_bleu-4", scores.bleu4());
            results.put("predict_rouge-1", scores.rouge1());
            results.put("predict_rouge-2", scores.rouge2());
            results.put("predict_rouge-l", scores.rougeL());
            byte[] bytes = lines.toString().getBytes(StandardCharsets.UTF_8);
            AtomicFiles.write(outputDir.resolve(FILE), out -> out.write(bytes));
            Metrics.write(results, outputDir.resolve(RESULTS));
            console.out().printf(Locale.ROOT, "%d predictions written to %s; BLEU-4 %.4f, ROUGE-1 %.4f, ROUGE-2 %.4f,"
                    + " ROUGE-L %.4f%n", rows.size(), outputDir.resolve(FILE), scores.bleu4(), scores.rouge1(),
                    scores.rouge2(), scores.rougeL());
        }
    }
}
