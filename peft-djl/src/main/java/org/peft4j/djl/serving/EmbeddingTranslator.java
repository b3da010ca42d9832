package org.peft4j.djl.serving;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.TranslatorContext;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * Texts to sentence embeddings for an embedder whose output is [B, hidden]: a batch is tokenized
 * together and padded to its longest text (so {@code batchPredict} is one forward pass), and each
 * row is one text's embedding.
 */
final class EmbeddingTranslator extends TokenizedTextTranslator<float[]> {
    EmbeddingTranslator(BertTokenizer tokenizer) {
        super(tokenizer);
    }

    @Override
    public float[] processOutput(TranslatorContext ctx, NDList list) {
        return list.get(0).toFloatArray();
    }

    @Override
    public List<float[]> batchProcessOutput(TranslatorContext ctx, NDList list) {
        NDArray embeddings = list.get(0);
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < embeddings.getShape().get(0); i++) {
            out.add(embeddings.get(i).toFloatArray());
        }
        return out;
    }
}
