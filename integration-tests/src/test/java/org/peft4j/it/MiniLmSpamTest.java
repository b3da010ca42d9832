package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.peft4j.api.checkpoint.AdapterCheckpoint;

/**
 * The real all-MiniLM-L6-v2 fine-tuned on the bundled spam data with each method, in a budget that
 * keeps the test run short (a seeded sample of the training rows, one epoch): dev and test accuracy
 * clearly above the 70% of always answering "ham", frozen weights bit-identical and without
 * gradients, and the saved adapter reproducing the logits exactly on a fresh base model.
 */
class MiniLmSpamTest {
    private static final float ALWAYS_HAM_DEV = 422f / 606;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"lora", "prompt", "prefix"})
    void fineTunesTheRealModel(String method, @TempDir Path dir) throws Exception {
        SpamFineTune.Options o = new SpamFineTune.Options();
        o.data = Path.of("../data/spamassassin.tsv");
        o.method = method;
        o.trainLimit = method.equals("prefix") ? 640 : 320;
        o.epochs = 1;
        o.scheduler = "constant"; // one short epoch: a decaying rate would spend half of it learning slowly
        o.warmupRatio = 0;
        o.out = dir.resolve(method);
        SpamFineTune.Result r = SpamFineTune.run(o);

        float dev = r.epochs().get(r.epochs().size() - 1).devMetric("accuracy");
        assertThat(dev).isGreaterThan(ALWAYS_HAM_DEV + 0.10f);
        assertThat(r.testAccuracy()).isGreaterThan(0.80f);
        assertThat(r.baseUnchanged()).isTrue();
        assertThat(r.frozenWithGradient()).isEmpty();
        assertThat(r.reloadedMaxAbsDiff()).isZero();
        AdapterCheckpoint saved = AdapterCheckpoint.load(r.adapter());
        assertThat(saved.config().peftType().name())
                .isEqualTo(method.equals("lora") ? "LORA" : method.equals("prompt") ? "PROMPT_TUNING" : "PREFIX_TUNING");
        // the head and the pooler all-MiniLM-L6-v2's export lacks, under PEFT's prefix for the method
        // (base_model.model. for LoRA, base_model. for prompt learning: peft/utils/save_and_load.py)
        String prefix = method.equals("lora") ? "base_model.model." : "base_model.";
        assertThat(saved.tensors()).containsKeys(prefix + "classifier.weight", prefix + "classifier.bias",
                prefix + "bert.pooler.dense.weight", prefix + "bert.pooler.dense.bias");
        assertThat(saved.config().taskType()).isEqualTo(org.peft4j.api.TaskType.SEQ_CLS);
        assertThat(saved.metadata()).containsEntry("peft4j_head", "pooler");
        assertThat(AdapterCheckpoint.load(r.adapter().resolve("best")).tensors()).isEqualTo(saved.tensors());
        java.util.List<String> log = java.nio.file.Files.readAllLines(r.adapter().resolve("trainer_log.jsonl"));
        assertThat(log).isNotEmpty();
        assertThat(log.get(0)).contains("\"current_steps\":10", "\"loss\":", "\"lr\":", "\"throughput\":");
        assertThat(log.get(log.size() - 1)).contains("\"eval_loss\":", "\"accuracy\":");
        java.awt.image.BufferedImage plot = javax.imageio.ImageIO.read(r.adapter().resolve("training_loss.png").toFile());
        assertThat(plot.getWidth()).isEqualTo(800);
    }
}
