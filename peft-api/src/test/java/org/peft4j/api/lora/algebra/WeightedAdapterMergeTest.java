package org.peft4j.api.lora.algebra;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.peft4j.api.TargetModules;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.safetensors.Tensor;

/**
 * Each combination type on 2×3 examples worked out by hand. X and Y have rank 1 and scaling 1 on
 * module "m": ΔW_X = [1; 2][3 -1 2] and ΔW_Y = [2; -1][-1 -2 4].
 */
class WeightedAdapterMergeTest {
    private static final LoraConfig RANK1 = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetModules("m").build();
    private static final AdapterCheckpoint X =
            Lora.of(RANK1).module("m", new double[][] {{3, -1, 2}}, new double[][] {{1}, {2}}).build();
    private static final AdapterCheckpoint Y =
            Lora.of(RANK1).module("m", new double[][] {{-1, -2, 4}}, new double[][] {{2}, {-1}}).build();

    private static AdapterCheckpoint merge(CombinationType type, double wx, double wy, Double density, Integer svdRank) {
        WeightedAdapterMerge.Builder b = WeightedAdapterMerge.builder().addAdapter("x", X, wx).addAdapter("y", Y, wy)
                .setCombinationType(type).optSeed(3);
        if (density != null) {
            b.optDensity(density);
        }
        if (svdRank != null) {
            b.optSvdRank(svdRank);
        }
        return b.build().merge();
    }

    private static void assertDelta(AdapterCheckpoint merged, double[][] expected) {
        double[][] delta = Lora.delta(merged, "m");
        assertThat(Lora.frobenius(delta, expected)).as(Arrays.deepToString(delta)).isLessThan(1e-12);
    }

    @Test
    void linearPutsTheRootOfWeightTimesScalingOnBothSides() {
        // A' = √.5 (A_X + A_Y) = √.5 [2 -3 6], B' = √.5 [3; 1]: ΔW' = .5 [3; 1][2 -3 6], cross terms included
        assertDelta(merge(CombinationType.LINEAR, 0.5, 0.5, null, null), new double[][] {{3, -4.5, 9}, {1, -1.5, 3}});
        // a negative weight goes onto A only: A' = A_X - A_Y = [4 1 -2], B' = B_X + B_Y = [3; 1]
        assertDelta(merge(CombinationType.LINEAR, 1, -1, null, null), new double[][] {{12, 3, -6}, {4, 1, -2}});
    }

    @Test
    void linearUsesEachAdaptersScaling() {
        LoraConfig alpha4 = RANK1.toBuilder().optLoraAlpha(4).build(); // s = 4
        AdapterCheckpoint x4 = Lora.of(alpha4).module("m", new double[][] {{3, -1, 2}}, new double[][] {{1}, {2}}).build();
        AdapterCheckpoint merged = WeightedAdapterMerge.builder().addAdapter("x4", x4, 1).addAdapter("y", Y, 1)
                .setCombinationType(CombinationType.LINEAR).build().merge();
        // A' = 2 A_X + A_Y = [5 -4 8], B' = 2 B_X + B_Y = [4; 3]
        assertDelta(merged, new double[][] {{20, -16, 32}, {15, -12, 24}});
    }

    @Test
    void catStacksTheRanksAndSumsTheUpdatesExactly() {
        AdapterCheckpoint merged = merge(CombinationType.CAT, 1, 0.5, null, null);
        // ΔW_X + .5 ΔW_Y = [3 -1 2; 6 -2 4] + .5 [-2 -4 8; 1 2 -4]
        assertDelta(merged, new double[][] {{2, -3, 6}, {6.5, -1, 2}});
        LoraConfig c = (LoraConfig) merged.config();
        assertThat(c.r()).isEqualTo(2);
        assertThat(c.loraAlpha()).isEqualTo(2f);
        assertThat(Lora.rows(merged.tensors().get("base_model.model.m.lora_A.weight")))
                .isEqualTo(new double[][] {{3, -1, 2}, {-0.5, -1, 2}});
    }

    @Test
    void svdTruncatesTheWeightedSumOfTheUpdates() {
        LoraConfig c = RANK1;
        AdapterCheckpoint p = Lora.of(c).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}}).build();
        AdapterCheckpoint q = Lora.of(c).module("m", new double[][] {{0, 1, 0}}, new double[][] {{0}, {1}}).build();
        // 3 ΔW_P + ΔW_Q = [3 0 0; 0 1 0]; rank max(1, 1) = 1 keeps the singular value 3
        AdapterCheckpoint rank1 = WeightedAdapterMerge.builder().addAdapter("p", p, 3).addAdapter("q", q, 1)
                .setCombinationType(CombinationType.SVD).build().merge();
        assertDelta(rank1, new double[][] {{3, 0, 0}, {0, 0, 0}});
        AdapterCheckpoint rank2 = WeightedAdapterMerge.builder().addAdapter("p", p, 3).addAdapter("q", q, 1)
                .setCombinationType(CombinationType.SVD).optSvdRank(2).build().merge();
        assertDelta(rank2, new double[][] {{3, 0, 0}, {0, 1, 0}});
        // at full rank, the sum itself: ΔW_X + .5 ΔW_Y
        assertDelta(merge(CombinationType.SVD, 1, 0.5, null, 2), new double[][] {{2, -3, 6}, {6.5, -1, 2}});
    }

    @Test
    void svdRankAboveTheMatrixSizePadsWithZeros() {
        AdapterCheckpoint merged = merge(CombinationType.SVD, 1, 0.5, null, 4);
        assertThat(merged.tensors().get("base_model.model.m.lora_A.weight").shape()).containsExactly(4, 3);
        assertThat(merged.tensors().get("base_model.model.m.lora_B.weight").shape()).containsExactly(2, 4);
        // s' = 4 / 4 = 1
        assertDelta(merged, new double[][] {{2, -3, 6}, {6.5, -1, 2}});
    }

    @Test
    void tiesTrimsElectsTheSignAndAveragesOnAAndBSeparately() {
        // density .7: A keeps ⌊2.1⌋ = 2 entries: [3 0 2], [0 -2 4]; total signs + - +; mean of agreeing:
        // A' = [3 -2 (2+4)/2]. B keeps ⌊1.4⌋ = 1: [0 2], [2 0]; B' = [2 2]
        assertDelta(merge(CombinationType.TIES, 1, 1, 0.7, null), new double[][] {{6, -4, 6}, {6, -4, 6}});
        // weights 4 and 1: √4 = 2 on X's A and B; signs elected from the unweighted values, as before:
        // A' = [2·3, 1·(-2), (2·2 + 1·4)/2] = [6 -2 4], B' = [1·2, 2·2] = [2 4]
        assertDelta(merge(CombinationType.TIES, 4, 1, 0.7, null), new double[][] {{12, -4, 8}, {24, -8, 16}});
    }

    @Test
    void magnitudePruneTrimsThenSums() {
        // A' = [3 0 2] + [0 -2 4] = [3 -2 6], B' = [0 2] + [2 0] = [2 2]
        assertDelta(merge(CombinationType.MAGNITUDE_PRUNE, 1, 1, 0.7, null), new double[][] {{6, -4, 12}, {6, -4, 12}});
    }

    @Test
    void tiesSvdAndMagnitudePruneSvdWorkOnTheUpdates() {
        // density .5 keeps 3 of 6 entries: ΔW_X → [3 0 0; 6 0 4], ΔW_Y → [0 -4 8; 0 0 -4]
        // ties: at (1,2) the total 4 - 4 = 0 elects +, so only 4 stays
        assertDelta(merge(CombinationType.TIES_SVD, 1, 1, 0.5, 2), new double[][] {{3, -4, 8}, {6, 0, 4}});
        assertDelta(merge(CombinationType.MAGNITUDE_PRUNE_SVD, 1, 1, 0.5, 2), new double[][] {{3, -4, 8}, {6, 0, 0}});
    }

    @Test
    void tiesSignElectionByTotalOrFrequency() {
        List<double[]> t = List.of(new double[] {5}, new double[] {-1}, new double[] {-1});
        double[] ones = {1, 1, 1};
        assertThat(MergeFunctions.ties(t, ones, MajoritySignMethod.TOTAL)).containsExactly(5);
        assertThat(MergeFunctions.ties(t, ones, MajoritySignMethod.FREQUENCY)).containsExactly(-1);
    }

    @Test
    void dareDropsEntriesAtRandomAndRescalesTheRest() {
        AdapterCheckpoint merged = merge(CombinationType.DARE_LINEAR, 1, 1, 0.5, null);
        double[] a = merged.tensors().get("base_model.model.m.lora_A.weight").toDoubleArray();
        double[] ax = {3, -1, 2};
        double[] ay = {-1, -2, 4};
        for (int j = 0; j < 3; j++) { // each entry is one of the four sums of kept entries, each doubled
            assertThat(List.of(0.0, 2 * ax[j], 2 * ay[j], 2 * (ax[j] + ay[j]))).contains(a[j]);
        }
        assertThat(merge(CombinationType.DARE_LINEAR, 1, 1, 0.5, null)).isEqualTo(merged);
        assertThat(merge(CombinationType.DARE_LINEAR, 1, 1, 1.0, null).tensors())
                .isEqualTo(merge(CombinationType.LINEAR, 1, 1, null, null).tensors());
        assertThat(merge(CombinationType.DARE_TIES, 1, 1, 1.0, null).tensors())
                .isEqualTo(merge(CombinationType.TIES, 1, 1, 1.0, null).tensors());
        assertDelta(merge(CombinationType.DARE_LINEAR_SVD, 1, 0.5, 1.0, 2), new double[][] {{2, -3, 6}, {6.5, -1, 2}});
    }

    @Test
    void dareWithAnotherSeedDrawsOtherMasks() {
        AdapterCheckpoint[] results = new AdapterCheckpoint[8];
        for (int seed = 0; seed < results.length; seed++) {
            results[seed] = WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("y", Y, 1)
                    .setCombinationType(CombinationType.DARE_TIES).optDensity(0.5).optSeed(seed).build().merge();
        }
        assertThat(Arrays.stream(results).map(AdapterCheckpoint::tensors).distinct().count()).isGreaterThan(1);
    }

    @Test
    void svdClampLimitsTheFactorsToAQuantileOfTheirEntries() {
        AdapterCheckpoint plain = merge(CombinationType.SVD, 1, 0.5, null, 2);
        AdapterCheckpoint clamped = WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("y", Y, 0.5)
                .setCombinationType(CombinationType.SVD).optSvdRank(2).optSvdClamp(0.8).build().merge();
        double[] a = plain.tensors().get("base_model.model.m.lora_A.weight").toDoubleArray();
        double[] b = plain.tensors().get("base_model.model.m.lora_B.weight").toDoubleArray();
        double[] all = new double[b.length + a.length];
        System.arraycopy(b, 0, all, 0, b.length);
        System.arraycopy(a, 0, all, b.length, a.length);
        Arrays.sort(all);
        double position = 0.8 * (all.length - 1); // torch.quantile's linear interpolation
        int lo = (int) Math.floor(position);
        double high = all[lo] + (position - lo) * (all[lo + 1] - all[lo]);
        double[] ca = clamped.tensors().get("base_model.model.m.lora_A.weight").toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            assertThat(ca[i]).isCloseTo(Math.max(-high, Math.min(high, a[i])), within(1e-12));
        }
        double[] cb = clamped.tensors().get("base_model.model.m.lora_B.weight").toDoubleArray();
        for (int i = 0; i < b.length; i++) {
            assertThat(cb[i]).isCloseTo(Math.max(-high, Math.min(high, b[i])), within(1e-12));
        }
    }

    @Test
    void aSingleAdapterIsCombinedLinearlyAsInPeft() {
        WeightedAdapterMerge m = WeightedAdapterMerge.builder().addAdapter("x", X, 2)
                .setCombinationType(CombinationType.SVD).build();
        assertThat(m.combinationType()).isEqualTo(CombinationType.LINEAR);
        assertDelta(m.merge(), new double[][] {{6, -2, 4}, {12, -4, 8}});
    }

    @Test
    void theNewConfigUnitesTheTargets() {
        LoraConfig q = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetModules("q", "k").build();
        LoraConfig v = LoraConfig.builder().optR(1).optLoraAlpha(1).setTargetModules("v").optTaskType(TaskType.CAUSAL_LM).build();
        AdapterCheckpoint merged = WeightedAdapterMerge.builder()
                .addAdapter("a", Lora.of(q).module("l.q", new double[][] {{1, 2}}, new double[][] {{1}}).build(), 1)
                .addAdapter("b", Lora.of(v).module("l.v", new double[][] {{3, 4}}, new double[][] {{2}}).build(), 1)
                .setCombinationType(CombinationType.CAT).build().merge();
        LoraConfig c = (LoraConfig) merged.config();
        assertThat(c.targetModules().names()).containsExactly("q", "k", "v");
        assertThat(c.r()).isEqualTo(2);
        assertThat(merged.tensors()).containsKeys("base_model.model.l.q.lora_A.weight", "base_model.model.l.v.lora_B.weight");
        // a module only one adapter has is that adapter's, weighted, in the first rows
        assertThat(Lora.delta(merged, "l.v")).isEqualTo(new double[][] {{6, 8}});

        LoraConfig r1 = LoraConfig.builder().optR(1).setTargetModulesRegex(".*\\.q").build();
        LoraConfig r2 = LoraConfig.builder().optR(1).setTargetModulesRegex(".*\\.v").build();
        AdapterCheckpoint regex = WeightedAdapterMerge.builder()
                .addAdapter("a", Lora.of(r1).module("l.q", new double[][] {{1, 2}}, new double[][] {{1}}).build(), 1)
                .addAdapter("b", Lora.of(r2).module("l.v", new double[][] {{3, 4}}, new double[][] {{2}}).build(), 1)
                .setCombinationType(CombinationType.LINEAR).build().merge();
        assertThat(((LoraConfig) regex.config()).targetModules()).isEqualTo(TargetModules.regex("(.*\\.q)|(.*\\.v)"));
    }

    @Test
    void errorsSayWhatIsWrong() {
        LoraConfig rank2 = LoraConfig.builder().optR(2).setTargetModules("m").build();
        AdapterCheckpoint z = Lora.of(rank2).module("m", new double[][] {{1, 0, 0}, {0, 1, 0}}, new double[][] {{1, 0}, {0, 1}}).build();
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("z", z, 1)
                .setCombinationType(CombinationType.LINEAR).build().merge())
                .hasMessageContaining("all adapters must have the same r for combination_type linear (x: r=1, z: r=2)");
        assertThatThrownBy(() -> CombinationType.fromPeftName("average"))
                .hasMessageContaining("unknown combination_type \"average\"")
                .hasMessageContaining("linear, cat, svd, ties, ties_svd, dare_linear, dare_ties");
        Map<String, AdapterCheckpoint> two = new LinkedHashMap<>();
        two.put("x", X);
        two.put("y", Y);
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().setAdapters(two, List.of(1.0)))
                .hasMessageContaining("got 2 adapters [x, y] but 1 weights [1.0]");
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("y", Y, 1)
                .setCombinationType(CombinationType.TIES).build())
                .hasMessageContaining("combination_type ties needs density");
        LoraConfig cls = RANK1.toBuilder().optTaskType(TaskType.SEQ_CLS).build();
        AdapterCheckpoint c1 = Lora.of(cls).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}}).build();
        AdapterCheckpoint c2 = Lora.of(cls).module("m", new double[][] {{0, 1, 0}}, new double[][] {{1}, {0}}).build();
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("c1", c1, 1).addAdapter("c2", c2, 1)
                .setCombinationType(CombinationType.CAT).build().merge())
                .hasMessageContaining("task_type SEQ_CLS: c1, c2");
        Tensor head = Tensor.ofDoubles(new long[] {2, 2}, new double[4]);
        AdapterCheckpoint h1 = Lora.of(RANK1).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}})
                .tensor("base_model.model.classifier.weight", head).build();
        AdapterCheckpoint h2 = Lora.of(RANK1).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}})
                .tensor("base_model.model.classifier.weight", head).build();
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("h1", h1, 1).addAdapter("h2", h2, 1)
                .setCombinationType(CombinationType.CAT).build().merge())
                .hasMessageContaining("both hold \"base_model.model.classifier.weight\"");
        LoraConfig regex = LoraConfig.builder().optR(1).setTargetModulesRegex("m").build();
        AdapterCheckpoint r = Lora.of(regex).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}}).build();
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("r", r, 1)
                .setCombinationType(CombinationType.CAT).build().merge())
                .hasMessageContaining("target_modules must have the same form");
        AdapterCheckpoint wide = Lora.of(RANK1).module("m", new double[][] {{1, 0, 0, 0}}, new double[][] {{1}, {0}}).build();
        assertThatThrownBy(() -> WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("wide", wide, 1)
                .setCombinationType(CombinationType.SVD).build().merge())
                .hasMessageContaining("module \"m\"").hasMessageContaining("layers of different sizes");
    }

    @Test
    void aHeadHeldByOneAdapterIsCarriedOver() {
        Tensor head = Tensor.ofDoubles(new long[] {2, 2}, new double[] {1, 2, 3, 4});
        LoraConfig withHead = RANK1.toBuilder().optModulesToSave("classifier").build();
        AdapterCheckpoint h = Lora.of(withHead).module("m", new double[][] {{1, 0, 0}}, new double[][] {{1}, {0}})
                .tensor("base_model.model.classifier.weight", head).build();
        AdapterCheckpoint merged = WeightedAdapterMerge.builder().addAdapter("x", X, 1).addAdapter("h", h, 1)
                .setCombinationType(CombinationType.SVD).build().merge();
        assertThat(merged.tensors().get("base_model.model.classifier.weight")).isEqualTo(head);
        assertThat(((LoraConfig) merged.config()).modulesToSave()).containsExactly("classifier");
    }
}
