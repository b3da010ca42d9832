package org.peft4j.djl.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.nn.Parameter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.djl.AttachedAdapter;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * LoRA+ ({@code loraplus_lr_ratio}): after one update, every weight moved as AdamW's first step
 * moves it, lr · g / (|g| + ε), which is lr in size wherever the gradient is not tiny: A and the
 * head's matrix at the rate, B and the 1-D parameters (the head's bias) at ratio × the rate, as
 * PEFT's {@code create_loraplus_optimizer} groups them.
 */
class LoraPlusTest {
    private static final float LR = 1e-3f;

    /** Each trainable parameter's values before and after one update, by name. */
    private static Map<String, float[][]> oneUpdate(float ratio) throws Exception {
        Engine.getInstance().setRandomSeed(5);
        List<LabeledText> rows = TinyClassifier.sample(8);
        Map<String, float[][]> out = new LinkedHashMap<>();
        try (Model model = Model.newInstance("tiny"); BertTokenizer tokenizer = TinyClassifier.tokenizer()) {
            // B random too, so that A has a gradient on the first update
            PeftModel peft = Peft.apply(TinyClassifier.create(model, 0f), LoraConfig.builder().optR(2).optLoraAlpha(4)
                    .optInitLoraWeights(LoraInit.RANDOM).setTargetModules("query").build());
            List<Parameter> trainable = ((AttachedAdapter) peft.adapter(peft.activeAdapter())).trainableParameterList();
            List<float[]> before = new ArrayList<>();
            trainable.forEach(p -> before.add(p.getArray().toFloatArray()));
            new TextTraining(model, peft, tokenizer, List.of("ham", "spam")).fit(rows, List.of(),
                    FineTuning.Settings.builder().setEpochs(1).setBatchSize(8).setLearningRate(LR)
                            .optScheduler(LearningRateSchedule.Kind.CONSTANT).optMaxGradNorm(0)
                            .optLoraplusLrRatio(ratio).build(), r -> { });
            for (int i = 0; i < trainable.size(); i++) {
                Parameter p = trainable.get(i);
                String name = p.getName().startsWith("lora_") ? p.getName().substring(0, 6) : "head " + p.getName();
                out.put(name, new float[][] {before.get(i), p.getArray().toFloatArray()});
            }
        }
        return out;
    }

    /**
     * The median size of the weights' moves over the expected step: 1 when the parameter moved as
     * AdamW's first step at that rate, with every move at most the step (plus float rounding).
     */
    private static double medianStepRatio(float[][] beforeAfter, double step) {
        float[] before = beforeAfter[0];
        float[] after = beforeAfter[1];
        double[] ratios = new double[before.length];
        for (int i = 0; i < before.length; i++) {
            ratios[i] = Math.abs((double) after[i] - before[i]) / step;
            assertThat(ratios[i]).isLessThan(1.001);
        }
        java.util.Arrays.sort(ratios);
        return ratios[ratios.length / 2];
    }

    @Test
    void bAndOneDimensionalParametersLearnAtTheRatioTimesTheRate() throws Exception {
        Map<String, float[][]> plain = oneUpdate(1f);
        Map<String, float[][]> plus = oneUpdate(16f);
        assertThat(plus.keySet()).containsExactly("lora_A", "lora_B", "head weight", "head bias");
        for (String name : List.of("lora_A", "lora_B", "head weight", "head bias")) {
            assertThat(medianStepRatio(plain.get(name), LR)).as(name + " without LoRA+").isGreaterThan(0.99);
            // the same start (same seed): only the rate differs
            assertThat(plus.get(name)[0]).containsExactly(plain.get(name)[0]);
        }
        assertThat(medianStepRatio(plus.get("lora_A"), LR)).isGreaterThan(0.99);
        assertThat(medianStepRatio(plus.get("head weight"), LR)).isGreaterThan(0.99);
        assertThat(medianStepRatio(plus.get("lora_B"), 16 * LR)).isGreaterThan(0.99);
        assertThat(medianStepRatio(plus.get("head bias"), 16 * LR)).isGreaterThan(0.99);
    }

    @Test
    void theRatioMustBePositive() {
        FineTuning.Settings.Builder base = FineTuning.Settings.builder().setEpochs(1).setBatchSize(8).setLearningRate(LR);
        assertThatThrownBy(() -> base.optLoraplusLrRatio(0).build())
                .hasMessage("loraplus_lr_ratio must be a positive number (1: plain LoRA), got 0.0");
        assertThatThrownBy(() -> base.optLoraplusLrRatio(Float.NaN).build()).hasMessageContaining("loraplus_lr_ratio");
        assertThat(base.optLoraplusLrRatio(16).build().loraplusLrRatio()).isEqualTo(16f);
    }
}
