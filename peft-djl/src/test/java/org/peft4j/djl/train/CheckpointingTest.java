package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * A run that dies after a saved state and is started again resumes from that state and ends with
 * the adapter of the run that never died, bit for bit: dropout on (encoder and LoRA), shuffled
 * batches, a dev evaluation between the epochs, AdamW's moments and a head saved with the adapter.
 */
class CheckpointingTest {
    private static final List<String> LABELS = List.of("ham", "spam");
    private static final LoraConfig LORA = LoraConfig.builder().optR(4).optLoraAlpha(8).optLoraDropout(0.1f)
            .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query", "value").optModulesToSave("classifier")
            .build();

    /** Keeps states as safetensors bytes, as a file would; can die right after keeping one. */
    static final class MemoryCheckpoints implements Checkpointing {
        final List<Integer> saved = new ArrayList<>();
        byte[] latest;
        int dieAfter;

        @Override
        public int saveSteps() {
            return 3;
        }

        @Override
        public TrainingState latest() {
            return latest == null ? null : TrainingState.fromSafeTensors(SafeTensors.parse(latest), "memory");
        }

        @Override
        public void save(TrainingState state) {
            latest = state.toSafeTensors().toBytes();
            saved.add(state.update());
            if (state.update() == dieAfter) {
                throw new IllegalStateException("died after update " + dieAfter);
            }
        }
    }

    private static FineTuning.Settings settings(Checkpointing checkpoints, Path dir) {
        return FineTuning.Settings.builder().setEpochs(2).setBatchSize(8).setLearningRate(1e-2f).optWarmupRatio(0.2f)
                .optWeightDecay(0.01f).optSeed(7).optLoggingSteps(1).optOutputDir(dir).optCheckpointing(checkpoints)
                .build();
    }

    /** A fresh model loaded with {@code start}, trained; returns its adapter. */
    private static AdapterCheckpoint train(AdapterCheckpoint start, List<LabeledText> train, List<LabeledText> dev,
            FineTuning.Settings settings, List<FineTuning.EpochReport> reports) throws Exception {
        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            Engine.getInstance().setRandomSeed(3);
            BertSequenceClassifier classifier = TinyClassifier.create(model, 0.1f);
            PeftModel peft = Peft.load(classifier, start, "start");
            reports.addAll(new TextTraining(model, peft, tokenizer, LABELS).fit(train, dev, settings, r -> { }));
            return peft.checkpoint();
        }
    }

    @Test
    void aRunStartedAgainAfterItDiedEndsWithTheUninterruptedAdapter(@TempDir Path dir) throws Exception {
        List<LabeledText> rows = TinyClassifier.sample(48);
        List<LabeledText> train = rows.subList(0, 32); // 4 updates an epoch, 8 in all
        List<LabeledText> dev = rows.subList(32, 48);
        AdapterCheckpoint start;
        try (Model model = Model.newInstance("tiny")) {
            Engine.getInstance().setRandomSeed(3);
            start = Peft.apply(TinyClassifier.create(model, 0.1f), LORA).checkpoint();
        }

        MemoryCheckpoints whole = new MemoryCheckpoints();
        List<FineTuning.EpochReport> wholeReports = new ArrayList<>();
        AdapterCheckpoint uninterrupted = train(start, train, dev, settings(whole, dir.resolve("a")), wholeReports);
        assertThat(whole.saved).containsExactly(3, 6);

        MemoryCheckpoints broken = new MemoryCheckpoints();
        broken.dieAfter = 6; // after epoch 1 and its dev evaluation, halfway through epoch 2
        assertThatThrownBy(() -> train(start, train, dev, settings(broken, dir.resolve("b")), new ArrayList<>()))
                .hasMessage("died after update 6");
        broken.dieAfter = 0;
        List<FineTuning.EpochReport> resumedReports = new ArrayList<>();
        AdapterCheckpoint resumed = train(start, train, dev, settings(broken, dir.resolve("b")), resumedReports);

        assertThat(broken.saved).containsExactly(3, 6); // nothing saved again: updates 7 and 8 only were computed
        assertThat(resumedReports).hasSize(1); // epoch 1 ended before the state and is not evaluated again
        assertThat(resumedReports.get(0).epoch()).isEqualTo(2);
        assertThat(resumedReports.get(0).devLoss()).isEqualTo(wholeReports.get(1).devLoss());
        assertThat(resumed.tensors().keySet()).isEqualTo(uninterrupted.tensors().keySet());
        for (Map.Entry<String, Tensor> e : uninterrupted.tensors().entrySet()) {
            assertThat(resumed.tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                    .containsExactly(e.getValue().toFloatArray());
        }
        // training moved the adapter (its head too), so equal adapters say something
        for (Map.Entry<String, Tensor> e : start.tensors().entrySet()) {
            assertThat(uninterrupted.tensors().get(e.getKey()).toFloatArray()).as(e.getKey())
                    .isNotEqualTo(e.getValue().toFloatArray());
        }
    }

    @Test
    void theStateOfAnotherAdapterIsRefusedAndChangesNothing(@TempDir Path dir) throws Exception {
        List<LabeledText> train = TinyClassifier.sample(16);
        MemoryCheckpoints other = new MemoryCheckpoints();
        AdapterCheckpoint start;
        try (Model model = Model.newInstance("tiny")) {
            Engine.getInstance().setRandomSeed(3);
            start = Peft.apply(TinyClassifier.create(model, 0f), LORA).checkpoint();
        }
        train(start, train, List.of(), settings(other, dir.resolve("a")), new ArrayList<>());
        assertThat(other.saved).containsExactly(3);

        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            Engine.getInstance().setRandomSeed(3);
            PeftModel peft = Peft.apply(TinyClassifier.create(model, 0f), LoraConfig.builder().optR(2)
                    .setTargetModules("query", "value").build());
            AdapterCheckpoint before = peft.checkpoint();
            assertThatThrownBy(() -> new TextTraining(model, peft, tokenizer, LABELS).fit(train, List.of(),
                    settings(other, dir.resolve("b")), r -> { }))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("the saved state of update 3")
                    .hasMessageContaining("it is the state of another model or adapter");
            AdapterCheckpoint after = peft.checkpoint();
            for (Map.Entry<String, Tensor> e : before.tensors().entrySet()) {
                assertThat(after.tensors().get(e.getKey()).toFloatArray()).containsExactly(e.getValue().toFloatArray());
            }
        }

        SafeTensors notAState = new SafeTensors(Map.of("w", Tensor.ofFloats(new long[] {1}, new float[] {1})),
                SafeTensors.PT_METADATA);
        assertThatThrownBy(() -> TrainingState.fromSafeTensors(notAState, "adapter_model.safetensors"))
                .isInstanceOf(SafeTensorsFormatException.class)
                .hasMessage("adapter_model.safetensors is not a peft4j training state (its metadata format is pt, not"
                        + " peft4j-training-state)");
    }
}
