package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.data.TaggedSentences;
import org.peft4j.cli.Peft4jCommandTest.Result;

/** {@code peft4j train} and {@code eval} with {@code task_type: TOKEN_CLS} on a small CoNLL file, and their refusals. */
class TokenClassificationCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Twenty sentences with numbers and e-mail addresses, tagged B-NUM and B-EMAIL, in CoNLL form. */
    static String conll() {
        String[] names = {"alice", "bob", "carol", "dave", "erin"};
        StringBuilder out = new StringBuilder("-DOCSTART- O\n\n");
        for (int i = 0; i < 20; i++) {
            out.append("Call\tO\n").append(100 + 37 * i).append("\tB-NUM\n").append("or\tO\nmail\tO\n")
                    .append(names[i % 5]).append(i).append("@example.org\tB-EMAIL\n").append("today\tO\n\n");
        }
        return out.toString();
    }

    @Test
    void trainsATaggerAndWritesATokenClsAdapter(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("tags.conll");
        Files.writeString(data, conll());
        Path out = dir.resolve("run");
        Path config = dir.resolve("ner.yaml");
        Files.writeString(config, "task_type: TOKEN_CLS\nfinetuning_type: lora\nlora_target: query,value\ndataset: "
                + data + "\noutput_dir: " + out + "\nnum_train_epochs: 1\nper_device_train_batch_size: 8\n"
                + "val_size: 0.25\ncutoff_len: 32\n");
        Result result = Peft4jCommandTest.run("train", config.toString());
        assertThat(result.status()).as(result.err()).isZero();
        assertThat(result.out()).contains("lora TOKEN_CLS on", "15 train, 5 dev sentences; tags [B-EMAIL, B-NUM, O]",
                "dev entity P", "eval entities: precision", "EMAIL ", "NUM ", "adapter written to " + out);
        JsonNode adapter = JSON.readTree(out.resolve("adapter_config.json").toFile());
        assertThat(adapter.get("task_type").asText()).isEqualTo("TOKEN_CLS");
        assertThat(adapter.get("modules_to_save").toString()).contains("classifier");
        assertThat(JSON.readTree(out.resolve(RunRecord.FILE).toFile()).get("labels").toString())
                .isEqualTo("[\"B-EMAIL\",\"B-NUM\",\"O\"]");
        JsonNode results = JSON.readTree(out.resolve("all_results.json").toFile());
        assertThat(results.has("eval_f1")).isTrue();
        assertThat(results.get("eval_accuracy").asDouble()).isBetween(0.0, 1.0);

        // eval scores a file with the trained tagger; a tag it never learned is named
        Result eval = Peft4jCommandTest.run("eval", out.toString(), "--dataset", data.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode scores = JSON.readTree(eval.out());
        assertThat(scores.get("eval_f1").asDouble()).isBetween(0.0, 1.0);
        assertThat(scores.has("eval_NUM_f1")).isTrue();
        assertThat(eval.err()).contains("eval entities: precision");

        // predict tags every word of the file (its gold tags ignored), in CoNLL form: its word accuracy is eval's
        Path tagged = dir.resolve("tagged.conll");
        Result predict = Peft4jCommandTest.run("predict", out.toString(), "--input", data.toString(), "--output",
                tagged.toString());
        assertThat(predict.status()).as(predict.err()).isZero();
        assertThat(predict.out()).contains("20 tagged sentences written to " + tagged);
        List<TaggedSentence> gold = TaggedSentences.read(data);
        List<TaggedSentence> predicted = TaggedSentences.read(tagged);
        assertThat(predicted).hasSameSizeAs(gold);
        int words = 0;
        int right = 0;
        for (int s = 0; s < gold.size(); s++) {
            assertThat(predicted.get(s).tokens()).isEqualTo(gold.get(s).tokens());
            assertThat(predicted.get(s).tags()).allMatch(t -> List.of("B-EMAIL", "B-NUM", "O").contains(t));
            for (int w = 0; w < gold.get(s).size(); w++) {
                words++;
                right += gold.get(s).tags().get(w).equals(predicted.get(s).tags().get(w)) ? 1 : 0;
            }
        }
        assertThat((double) right / words).isCloseTo(scores.get("eval_accuracy").asDouble(), within(1e-4));
        // words alone, as JSON Lines: the tags come back as JSON Lines, on standard output without --output
        Path plain = dir.resolve("words.jsonl");
        Files.writeString(plain, "{\"tokens\": [\"Call\", \"4242\", \"or\", \"mail\", \"zoe@example.org\"]}\n");
        Result jsonl = Peft4jCommandTest.run("predict", out.toString(), "--input", plain.toString());
        assertThat(jsonl.status()).as(jsonl.err()).isZero();
        JsonNode line = JSON.readTree(jsonl.out());
        assertThat(line.get("tokens").toString()).isEqualTo("[\"Call\",\"4242\",\"or\",\"mail\",\"zoe@example.org\"]");
        assertThat(line.get("tags").size()).isEqualTo(5);
        Result export = Peft4jCommandTest.run("export", out.toString(), "--to", dir.resolve("merged").toString());
        assertThat(export.status()).isEqualTo(2);
        assertThat(export.err()).contains("holds a TOKEN_CLS tagger, which export does not write");
        Path unseen = dir.resolve("unseen.jsonl");
        Files.writeString(unseen, "{\"tokens\": [\"Call\", \"555-0100\"], \"tags\": [\"O\", \"B-PHONE\"]}\n");
        Result refused = Peft4jCommandTest.run("eval", out.toString(), "--dataset", unseen.toString());
        assertThat(refused.status()).isEqualTo(2);
        assertThat(refused.err()).contains("tag \"B-PHONE\" (word 2 of the sentence \"Call 555-0100\") is not one of"
                + " the model's tags [B-EMAIL, B-NUM, O]");
    }

    @Test
    void refusesAnUnknownTaskAMalformedLineAndWholeModelTuning(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("bad.conll");
        Files.writeString(data, "Call O\n555 B-NUM\nnow\n");
        Path config = dir.resolve("bad.yaml");
        Files.writeString(config, "dataset: " + data + "\noutput_dir: " + dir.resolve("o") + "\ntask_type: POS\n");
        Result unknown = Peft4jCommandTest.run("train", config.toString());
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.err()).contains(config + ", line 3: task_type must be one of [SEQ_CLS, TOKEN_CLS,"
                + " FEATURE_EXTRACTION, CAUSAL_LM], got \"POS\"");
        Files.writeString(config, "dataset: " + data + "\noutput_dir: " + dir.resolve("o") + "\ntask_type: TOKEN_CLS\n");
        Result malformed = Peft4jCommandTest.run("train", config.toString());
        assertThat(malformed.status()).isEqualTo(2);
        assertThat(malformed.err()).contains(data + ", line 3: expected a token and its tag");
        Files.writeString(config, "dataset: " + data + "\noutput_dir: " + dir.resolve("o")
                + "\ntask_type: token_cls\nfinetuning_type: full\n");
        Result full = Peft4jCommandTest.run("train", config.toString());
        assertThat(full.status()).isEqualTo(2);
        assertThat(full.err()).contains(config + ", line 4: task_type TOKEN_CLS trains an adapter");
    }
}
