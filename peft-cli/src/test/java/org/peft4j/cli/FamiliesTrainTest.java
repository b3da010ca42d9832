package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.models.bert.ClassifierDirectory;

/**
 * {@code peft4j train} on Hugging Face directories of the families beyond BERT: the tiny random
 * RoBERTa and DistilBERT classifiers of the golden files, a LoRA run each (on PEFT's names: query
 * and value, q_lin and v_lin) that eval reproduces and export merges into a directory transformers'
 * classes read, and freeze tuning on DistilBERT's layer and head names.
 */
class FamiliesTrainTest {
    private static final Path GOLDEN = Path.of("..", "integration-tests", "src", "test", "resources", "golden", "families");

    @TempDir
    Path dir;

    private Path config(String name, Path model, String yaml) throws Exception {
        Path data = dir.resolve("data.tsv");
        if (!Files.exists(data)) {
            StringBuilder tsv = new StringBuilder("label\tsplit\ttext\n");
            String[] spam = {"win free money click now", "free meds cheap click", "win money now", "click free win"};
            String[] ham = {"review the patch please", "call me tomorrow", "the meeting notes", "please review notes"};
            for (int i = 0; i < 24; i++) {
                String split = i < 16 ? "train" : i < 20 ? "dev" : "test";
                tsv.append("spam\t").append(split).append('\t').append(spam[i % 4]).append('\n');
                tsv.append("ham\t").append(split).append('\t').append(ham[i % 4]).append('\n');
            }
            Files.writeString(data, tsv);
        }
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, "model_name_or_path: " + model + "\ndataset: " + data + "\noutput_dir: "
                + dir.resolve(name) + "\nnum_train_epochs: 2\ncutoff_len: 16\nlearning_rate: 5e-3\nplot_loss: false\n"
                + yaml);
        return file;
    }

    static Path base(String family) {
        return GOLDEN.resolve(family + "-seq-cls").resolve("tiny-" + family);
    }

    private void trainEvalExport(String family, String targets, String architecture, String loraKey) throws Exception {
        Peft4jCommandTest.Result train = Peft4jCommandTest.run("train",
                config(family, base(family), "finetuning_type: lora\nlora_target: " + targets + "\n").toString());
        assertThat(train.status()).as(train.err()).isZero();
        Path out = dir.resolve(family);
        assertThat(train.out()).contains("32 train, 8 dev, 8 test rows", "adapter written to " + out);
        AdapterCheckpoint adapter = AdapterCheckpoint.load(out);
        assertThat(adapter.tensors()).containsKey(loraKey);
        JsonNode results = new ObjectMapper().readTree(out.resolve("all_results.json").toFile());
        Peft4jCommandTest.Result eval = Peft4jCommandTest.run("eval", out.toString());
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(new ObjectMapper().readTree(eval.out()).get("eval_accuracy").asDouble())
                .isEqualTo(results.get("test_accuracy").asDouble());
        Path merged = dir.resolve(family + "-merged");
        Peft4jCommandTest.Result export = Peft4jCommandTest.run("export", out.toString(), "--to", merged.toString());
        assertThat(export.status()).as(export.err()).isZero();
        try (NDManager manager = NDManager.newBaseManager()) {
            ClassifierDirectory.LoadedClassifier loaded = ClassifierDirectory.read(merged, manager);
            assertThat(loaded.classifier().architecture()).isEqualTo(architecture);
            assertThat(loaded.labels()).containsExactlyInAnyOrder("ham", "spam");
        }
        Peft4jCommandTest.Result evalMerged = Peft4jCommandTest.run("eval", merged.toString());
        assertThat(evalMerged.status()).as(evalMerged.err()).isZero();
        assertThat(new ObjectMapper().readTree(evalMerged.out()).get("eval_accuracy").asDouble())
                .isEqualTo(results.get("test_accuracy").asDouble());
    }

    @Test
    void loraOnRobertaTrainsEvaluatesAndExports() throws Exception {
        trainEvalExport("roberta", "query,value", "RobertaForSequenceClassification",
                "base_model.model.roberta.encoder.layer.1.attention.self.value.lora_B.weight");
    }

    @Test
    void loraOnDistilBertTrainsEvaluatesAndExports() throws Exception {
        trainEvalExport("distilbert", "q_lin,v_lin", "DistilBertForSequenceClassification",
                "base_model.model.distilbert.transformer.layer.1.attention.q_lin.lora_A.weight");
    }

    @Test
    void freezeTuningOnDistilBertTrainsTheLastLayerAndTheHead() throws Exception {
        Peft4jCommandTest.Result train = Peft4jCommandTest.run("train", config("freeze", base("distilbert"),
                "finetuning_type: freeze\nfreeze_trainable_layers: 1\n").toString());
        assertThat(train.status()).as(train.err()).isZero();
        // one layer of dim 32, hidden_dim 37 (4·(32·32+32) + (32·37+37) + (37·32+32) + 2·2·32 = 6,789) and the
        // head (pre_classifier 32·32+32, classifier 32·2+2: 1,122)
        assertThat(train.out()).contains("trainable parameters: 7,911");
    }

    @Test
    void meanPoolingIsBertsAloneAndIsRefusedForRoberta() throws Exception {
        Peft4jCommandTest.Result train = Peft4jCommandTest.run("train", config("mean", base("roberta"),
                "classifier_head: mean_pooling\n").toString());
        assertThat(train.status()).isEqualTo(2);
        assertThat(train.err()).contains("mean.yaml, line ", "classifier head \"mean_pooling\" is not offered for model_type roberta");
        assertThat(dir.resolve("mean").resolve("adapter_config.json")).doesNotExist();
    }
}
