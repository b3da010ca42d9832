package org.peft4j.djl.serving;

import ai.djl.modality.Classifications;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.TranslatorContext;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.djl.models.bert.BertTokenizer;

/**
 * Texts to class probabilities for a sequence classifier whose output is logits [B, labels]: a
 * batch is tokenized together and padded to its longest text (so {@code batchPredict} is one
 * forward pass), and each row of logits becomes the softmax over the labels, in label order.
 */
final class ClassificationTranslator extends TokenizedTextTranslator<Classifications> {
    private final List<String> labels;

    ClassificationTranslator(BertTokenizer tokenizer, List<String> labels) {
        super(tokenizer);
        this.labels = List.copyOf(labels);
    }

    /** One text's logits [labels] as probabilities. */
    @Override
    public Classifications processOutput(TranslatorContext ctx, NDList list) {
        return classifications(list.get(0).softmax(0));
    }

    @Override
    public List<Classifications> batchProcessOutput(TranslatorContext ctx, NDList list) {
        NDArray probabilities = list.get(0).softmax(1);
        List<Classifications> out = new ArrayList<>();
        for (int i = 0; i < probabilities.getShape().get(0); i++) {
            out.add(classifications(probabilities.get(i)));
        }
        return out;
    }

    private Classifications classifications(NDArray probabilities) {
        float[] p = probabilities.toFloatArray();
        List<Double> values = new ArrayList<>(p.length);
        for (float v : p) {
            values.add((double) v);
        }
        return new Classifications(labels, values);
    }
}
