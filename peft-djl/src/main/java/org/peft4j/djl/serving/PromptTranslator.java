package org.peft4j.djl.serving;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import java.util.Arrays;
import java.util.List;
import org.peft4j.djl.generation.GenerationTokenizer;

/**
 * The input side of translators from prompts to generated text, for a {@link GenerationBlock}: each
 * prompt is encoded as the model directory's tokenizer encodes it (its post-processor's special
 * tokens added) or, served as chat, rendered first ({@link ChatPrompts}); a batch is padded on the
 * left to its longest prompt (so {@code batchPredict} is one {@code Generator} run over the batch) and each row's prompt length goes with it; one prompt is
 * the same without the batch dimension. The output side reads a row's new ids up to its
 * end-of-sequence token.
 *
 * @param <O> what one prompt's continuation becomes
 */
abstract class PromptTranslator<O> implements Translator<String, O> {
    private final GenerationTokenizer tokenizer;
    private final ChatPrompts chat;

    /** Encodes prompts with {@code tokenizer}, as chat with {@code chat} unless it is null. */
    PromptTranslator(GenerationTokenizer tokenizer, ChatPrompts chat) {
        this.tokenizer = tokenizer;
        this.chat = chat;
    }

    /** Returns the tokenizer. */
    GenerationTokenizer tokenizer() {
        return tokenizer;
    }

    /** Stacking (rows of [N] new ids and their lengths); the batch input is padded instead of stacked. */
    @Override
    public Batchifier getBatchifier() {
        return Batchifier.STACK;
    }

    /** One prompt's ids [T] and their count []. */
    @Override
    public NDList processInput(TranslatorContext ctx, String input) {
        long[] ids = encode(input);
        NDManager manager = ctx.getNDManager();
        return new NDList(manager.create(ids), manager.create((long) ids.length));
    }

    /** The prompts' ids [B, T], each row padded on the left with 0 (the generator pads with its own token), and their lengths [B]. */
    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<String> inputs) {
        List<long[]> prompts = inputs.stream().map(this::encode).toList();
        int width = prompts.stream().mapToInt(p -> p.length).max().orElse(0);
        long[] ids = new long[prompts.size() * width];
        long[] lengths = new long[prompts.size()];
        for (int b = 0; b < prompts.size(); b++) {
            long[] prompt = prompts.get(b);
            System.arraycopy(prompt, 0, ids, (b + 1) * width - prompt.length, prompt.length);
            lengths[b] = prompt.length;
        }
        NDManager manager = ctx.getNDManager();
        return new NDList(manager.create(ids, new Shape(prompts.size(), width)), manager.create(lengths));
    }

    private long[] encode(String prompt) {
        return chat == null ? tokenizer.encode(prompt) : chat.encode(tokenizer, prompt);
    }

    /** A row's new ids [N] up to its length [] (through its end-of-sequence token). */
    static long[] generated(NDList row) {
        NDArray ids = row.get(0);
        return Arrays.copyOf(ids.toLongArray(), (int) row.get(1).getLong());
    }
}
