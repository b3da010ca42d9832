package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command on directories that Python wrote, with no peft4j run record: the golden adapters and
 * base model that transformers and PEFT saved (integration-tests' make_golden.py). predict gives
 * the probabilities of Python's logits, eval and export work, labels come from the base's
 * {@code id2label}, and an adapter that does not fit the base fails with exit status 2 and a
 * message naming the tensor and the shapes.
 */
class PythonFilesCommandTest {
    /** The golden files, kept with the interop tests of integration-tests. */
    private static final Path GOLDEN = Path.of("..", "integration-tests", "src", "test", "resources", "golden",
            "bert-seq-cls");
    private static final Path BASE = GOLDEN.resolve("tiny-bert");

    @TempDir
    Path dir;

    /** The golden texts as a TSV file with labels, for predict and eval. */
    private Path texts(JsonNode golden) throws Exception {
        StringBuilder tsv = new StringBuilder("label\ttext\n");
        String[] labels = {"spam", "ham", "unsure"};
        for (int i = 0; i < golden.at("/inputs/texts").size(); i++) {
            tsv.append(labels[i]).append('\t').append(golden.at("/inputs/texts").get(i).asText()).append('\n');
        }
        Path file = dir.resolve("texts.tsv");
        Files.writeString(file, tsv, StandardCharsets.UTF_8);
        return file;
    }

    private static double[] softmax(JsonNode logits) {
        double[] p = new double[logits.size()];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits.get(i).asDouble());
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Test
    void predictEvalAndExportTakeAnAdapterPythonSaved() throws Exception {
        JsonNode golden = new ObjectMapper().readTree(GOLDEN.resolve("golden.json").toFile());
        Path input = texts(golden);
        for (String adapter : List.of("lora", "prompt-text", "prefix-projection")) {
            Path output = dir.resolve(adapter + ".jsonl");
            Peft4jCommandTest.Result r = Peft4jCommandTest.run("predict", GOLDEN.resolve("adapters").resolve(adapter)
                    .toString(), "--model", BASE.toString(), "--input", input.toString(), "--output", output.toString());
            assertThat(r.status()).as(r.err()).isZero();
            List<String> lines = Files.readAllLines(output);
            for (int i = 0; i < lines.size(); i++) {
                JsonNode row = new ObjectMapper().readTree(lines.get(i));
                double[] expected = softmax(golden.at("/logits/" + adapter).get(i));
                String[] labels = {"ham", "spam", "unsure"};
                for (int c = 0; c < 3; c++) {
                    assertThat(row.at("/probabilities/" + labels[c]).asDouble()).as("%s row %d %s", adapter, i, labels[c])
                            .isCloseTo(expected[c], org.assertj.core.api.Assertions.within(1e-5));
                }
            }
        }
        Peft4jCommandTest.Result eval = Peft4jCommandTest.run("eval", GOLDEN.resolve("adapters/lora").toString(),
                "--model", BASE.toString(), "--dataset", input.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(eval.out()).contains("\"eval_samples\" : 3");

        Path exported = dir.resolve("exported");
        Peft4jCommandTest.Result export = Peft4jCommandTest.run("export", GOLDEN.resolve("adapters/lora").toString(),
                "--model", BASE.toString(), "--to", exported.toString());
        assertThat(export.status()).as(export.err()).isZero();
        Peft4jCommandTest.Result again = Peft4jCommandTest.run("predict", exported.toString(), "--input",
                input.toString(), "--output", dir.resolve("exported.jsonl").toString());
        assertThat(again.status()).as(again.err()).isZero();
        JsonNode first = new ObjectMapper().readTree(Files.readAllLines(dir.resolve("exported.jsonl")).get(0));
        assertThat(first.at("/probabilities/ham").asDouble()).isCloseTo(softmax(golden.at("/logits/lora").get(0))[0],
                org.assertj.core.api.Assertions.within(1e-5));
    }

    @Test
    void anAdapterThatDoesNotFitTheBaseFailsWithTheTensorAndShapes() throws Exception {
        Path input = texts(new ObjectMapper().readTree(GOLDEN.resolve("golden.json").toFile()));
        Peft4jCommandTest.Result r = Peft4jCommandTest.run("predict", GOLDEN.resolve("adapters/lora").toString(),
                "--model", "all-MiniLM-L6-v2", "--labels", "ham,spam,unsure", "--input", input.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("lora_A", "[4, 16]", "384").doesNotContain("\tat ");

        Peft4jCommandTest.Result unknownBase = Peft4jCommandTest.run("predict", GOLDEN.resolve("adapters/lora").toString(),
                "--input", input.toString());
        assertThat(unknownBase.status()).isEqualTo(2);
        assertThat(unknownBase.err()).contains("model \"tiny-bert\" is neither", "--model").doesNotContain("\tat ");
    }
}
