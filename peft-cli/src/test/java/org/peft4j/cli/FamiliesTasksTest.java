package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.data.TaggedSentences;
import org.peft4j.cli.Peft4jCommandTest.Result;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;

/**
 * {@code TOKEN_CLS} and {@code FEATURE_EXTRACTION} runs on Hugging Face directories of the families
 * beyond BERT (the tiny random RoBERTa and DistilBERT checkpoints of the golden files): a LoRA tagger
 * trains, evaluates and predicts the tags the library's own forward gives on its checkpoint and
 * adapter; a LoRA embedder on RoBERTa trains, is evaluated as training evaluated it, and exports a
 * {@code RobertaModel} directory that predicts what the run predicts.
 */
class FamiliesTasksTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"roberta, 'query,value', roberta.encoder.layer.1.attention.self.value",
            "distilbert, 'q_lin,v_lin', distilbert.transformer.layer.1.attention.v_lin"})
    void aTaggerOfTheFamilyTrainsEvaluatesAndPredictsAsTheLibraryDoes(String family, String targets, String module)
            throws Exception {
        Path data = Files.writeString(dir.resolve("tags.conll"), TokenClassificationCommandTest.conll());
        Path base = FamiliesTrainTest.base(family);
        Path out = dir.resolve("tagger");
        Path config = Files.writeString(dir.resolve("tagger.yaml"), "model_name_or_path: " + base
                + "\ntask_type: TOKEN_CLS\nfinetuning_type: lora\nlora_target: " + targets + "\ndataset: " + data
                + "\noutput_dir: " + out + "\nnum_train_epochs: 1\nper_device_train_batch_size: 8\nval_size: 0.25\n"
                + "cutoff_len: 16\nlearning_rate: 5e-3\nplot_loss: false\n");
        Result train = Peft4jCommandTest.run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).contains("lora TOKEN_CLS on hugging_face:", "15 train, 5 dev sentences");
        assertThat(AdapterCheckpoint.load(out).tensors()).containsKeys("base_model.model." + module + ".lora_B.weight",
                "base_model.model.classifier.weight");
        Result eval = Peft4jCommandTest.run("eval", out.toString(), "--dataset", data.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(JSON.readTree(eval.out()).get("eval_accuracy").asDouble()).isBetween(0.0, 1.0);

        Result predict = Peft4jCommandTest.run("predict", out.toString(), "--input", data.toString());
        assertThat(predict.status()).as(predict.err()).isZero();
        Path tagged = Files.writeString(dir.resolve("tagged.conll"), predict.out());
        List<TaggedSentence> predicted = TaggedSentences.read(tagged);
        List<TaggedSentence> gold = TaggedSentences.read(data);
        List<String> tags = List.of("B-EMAIL", "B-NUM", "O");
        // the library's forward on the same checkpoint and adapter, one sentence at a time
        try (NDManager manager = NDManager.newBaseManager();
                WordTokenizer words = WordTokenizer.fromTokenizerJson(base.resolve("tokenizer.json"), 16)) {
            TokenClassifier tagger = new TokenClassifier(EncoderFamilies.fromHuggingFace(base, manager), tags.size())
                    .initializeHead(manager);
            Peft.load(tagger, out);
            ParameterStore ps = new ParameterStore(manager, false);
            for (int s = 0; s < gold.size(); s++) {
                WordTokenizer.WordEncoding e = words.encode(gold.get(s).tokens());
                Shape shape = new Shape(1, e.length());
                NDArray logits = tagger.forward(ps, new NDList(manager.create(e.ids(), shape),
                        manager.ones(shape, DataType.INT64), manager.create(e.typeIds(), shape)),
                        false).singletonOrThrow();
                long[] best = logits.argMax(-1).toLongArray();
                List<String> library = new ArrayList<>();
                for (int j = 0; j < e.length(); j++) {
                    if (e.startsWord(j)) {
                        library.add(tags.get((int) best[j]));
                    }
                }
                assertThat(predicted.get(s).tokens()).isEqualTo(gold.get(s).tokens());
                assertThat(predicted.get(s).tags()).as("sentence %d", s).isEqualTo(library);
            }
        }
    }

    @Test
    void anEmbedderOnRobertaTrainsEvaluatesAndExports() throws Exception {
        String[] words = {"free", "money", "click", "now", "win", "call", "me", "tomorrow", "the", "meeting", "notes",
            "cheap", "meds", "patch", "review", "please"};
        StringBuilder tsv = new StringBuilder("anchor\tpositive\tsplit\n");
        for (int i = 0; i < 40; i++) {
            tsv.append(words[i % 16]).append(' ').append(words[(i * 7 + 3) % 16]).append('\t')
                    .append(words[(i * 5 + 1) % 16]).append(' ').append(words[(i * 3 + 2) % 16]).append(' ')
                    .append(words[i % 16]).append('\t').append(i < 24 ? "train" : i < 32 ? "dev" : "test").append('\n');
        }
        Path data = Files.writeString(dir.resolve("pairs.tsv"), tsv);
        Path out = dir.resolve("embedder");
        Path config = Files.writeString(dir.resolve("embedder.yaml"), "model_name_or_path: "
                + FamiliesTrainTest.base("roberta") + "\ntask_type: FEATURE_EXTRACTION\nfinetuning_type: lora\n"
                + "lora_target: query,value\ntext_column: anchor\ndataset: " + data + "\noutput_dir: " + out
                + "\nnum_train_epochs: 1\nper_device_train_batch_size: 8\ncutoff_len: 16\nlearning_rate: 5e-3\n"
                + "plot_loss: false\n");
        Result train = Peft4jCommandTest.run("train", config.toString());
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).contains("lora sentence embeddings (mean pooling)", "24 train, 8 dev, 8 test pairs");
        JsonNode results = JSON.readTree(out.resolve("all_results.json").toFile());
        Result eval = Peft4jCommandTest.run("eval", out.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        JsonNode scores = JSON.readTree(eval.out());
        for (String metric : new String[] {"recall@1", "recall@10", "mrr@10", "samples"}) {
            assertThat(scores.get("eval_" + metric).asDouble()).as(metric).isEqualTo(results.get("test_" + metric).asDouble());
        }

        Path merged = dir.resolve("merged");
        Result export = Peft4jCommandTest.run("export", out.toString(), "--to", merged.toString());
        assertThat(export.status()).as(export.err()).isZero();
        assertThat(JSON.readTree(merged.resolve("config.json").toFile()).get("architectures").toString())
                .isEqualTo("[\"RobertaModel\"]");
        assertThat(EmbeddingPooling.fromSentenceTransformers(merged)).isEqualTo(EmbeddingPooling.MEAN);
        Result fromRun = Peft4jCommandTest.run("predict", out.toString(), "--input", data.toString());
        Result fromExport = Peft4jCommandTest.run("predict", merged.toString(), "--input", data.toString());
        assertThat(fromRun.status()).as(fromRun.err()).isZero();
        assertThat(fromExport.status()).as(fromExport.err()).isZero();
        List<String> a = fromRun.out().lines().toList();
        List<String> b = fromExport.out().lines().toList();
        assertThat(a).hasSize(40).hasSameSizeAs(b);
        double worst = 0;
        for (int i = 0; i < a.size(); i++) {
            JsonNode x = JSON.readTree(a.get(i)).get("embedding");
            JsonNode y = JSON.readTree(b.get(i)).get("embedding");
            assertThat(x.size()).isEqualTo(32).isEqualTo(y.size());
            for (int h = 0; h < x.size(); h++) {
                worst = Math.max(worst, Math.abs(x.get(h).doubleValue() - y.get(h).doubleValue()));
            }
        }
        assertThat(worst).isLessThanOrEqualTo(1e-5);
    }
}
