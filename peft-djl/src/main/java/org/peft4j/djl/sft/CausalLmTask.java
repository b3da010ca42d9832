package org.peft4j.djl.sft;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.loss.Loss;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.djl.train.TaskEvaluation;
import org.peft4j.djl.train.TrainingTask;

/**
 * Supervised fine-tuning of a causal language model ({@code CAUSAL_LM}, LLaMA-Factory's
 * {@code stage: sft}) as a {@link TrainingTask}: a batch is right-padded (pad id, attention mask
 * 0, label -100), the block is a {@link org.peft4j.djl.models.CausalLanguageModel} taking
 * {@code input_ids} and {@code attention_mask}, and the loss is {@link CausalLmLoss}. Held-out
 * examples are scored by the mean loss over every learned token of the set and the next-token
 * accuracy on those tokens (logged as {@code accuracy}); the best epoch has the lowest loss, as
 * LLaMA-Factory's {@code eval_loss}.
 */
public final class CausalLmTask implements TrainingTask<SftExample> {
    /** The name the next-token accuracy is logged under. */
    public static final String ACCURACY = "accuracy";

    private final long padTokenId;

    /** A task whose batches pad with {@code padTokenId} (any id: padded positions are masked). */
    public CausalLmTask(long padTokenId) {
        this.padTokenId = padTokenId;
    }

    @Override
    public int length(SftExample row) {
        return row.length();
    }

    @Override
    public Batch batch(NDManager manager, List<SftExample> rows) {
        int length = rows.stream().mapToInt(SftExample::length).max().orElse(0);
        long[] ids = new long[rows.size() * length];
        long[] mask = new long[ids.length];
        long[] labels = new long[ids.length];
        Arrays.fill(ids, padTokenId);
        Arrays.fill(labels, SftExample.IGNORE);
        for (int r = 0; r < rows.size(); r++) {
            SftExample row = rows.get(r);
            System.arraycopy(row.inputIds(), 0, ids, r * length, row.length());
            System.arraycopy(row.labels(), 0, labels, r * length, row.length());
            Arrays.fill(mask, r * length, r * length + row.length(), 1L);
        }
        Shape shape = new Shape(rows.size(), length);
        return new Batch(new NDList(manager.create(ids, shape), manager.create(mask, shape)),
                new NDList(manager.create(labels, shape)));
    }

    @Override
    public Loss loss() {
        return new CausalLmLoss();
    }

    @Override
    public Evaluator<SftExample> evaluator() {
        return new Evaluator<>() {
            private double lossSum;
            private long learned;
            private long correct;

            @Override
            public void add(List<SftExample> rows, Batch batch, NDList outputs) {
                NDArray logits = outputs.singletonOrThrow().get(new NDIndex(":, :-1, :"));
                NDArray labels = batch.targets().singletonOrThrow().get(new NDIndex(":, 1:"));
                // the label's log-probability and the best guess at each position, computed where the logits are
                NDArray safe = labels.maximum(0L).expandDims(-1);
                float[] logProbs = logits.logSoftmax(-1).gather(safe, 2).squeeze(-1).toFloatArray();
                long[] best = logits.argMax(-1).toLongArray();
                long[] truth = labels.toLongArray();
                for (int i = 0; i < truth.length; i++) {
                    if (truth[i] == SftExample.IGNORE) {
                        continue;
                    }
                    lossSum -= logProbs[i];
                    learned++;
                    if (best[i] == truth[i]) {
                        correct++;
                    }
                }
            }

            @Override
            public TaskEvaluation result() {
                Map<String, Double> metrics = new LinkedHashMap<>();
                metrics.put(ACCURACY, learned == 0 ? Double.NaN : (double) correct / learned);
                return new TaskEvaluation(learned == 0 ? Double.NaN : lossSum / learned, metrics, null);
            }
        };
    }
}
