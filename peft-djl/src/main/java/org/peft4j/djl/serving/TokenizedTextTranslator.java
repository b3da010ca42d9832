package org.peft4j.djl.serving;

import ai.djl.ndarray.NDList;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import java.util.List;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * The input side of translators from texts: a batch is tokenized together and padded to its
 * longest text, so {@code batchPredict} is one forward pass; one text is the same without the
 * batch dimension.
 *
 * @param <O> what one text becomes
 */
abstract class TokenizedTextTranslator<O> implements Translator<String, O> {
    private final BertTokenizer tokenizer;

    TokenizedTextTranslator(BertTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Stacking, as DJL's own text translators declare; the batch methods pad instead of stacking. */
    @Override
    public Batchifier getBatchifier() {
        return Batchifier.STACK;
    }

    /** One text's ids, mask and token types, without the batch dimension. */
    @Override
    public NDList processInput(TranslatorContext ctx, String input) {
        NDList batch = tokenizer.encode(ctx.getNDManager(), List.of(input));
        NDList single = new NDList(batch.size());
        batch.forEach(a -> single.add(a.squeeze(0)));
        return single;
    }

    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<String> inputs) {
        return tokenizer.encode(ctx.getNDManager(), inputs);
    }
}
