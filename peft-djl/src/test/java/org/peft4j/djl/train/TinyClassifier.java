package org.peft4j.djl.train;

import ai.djl.Model;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.peft4j.api.data.LabeledText;
import org.peft4j.api.data.LabeledTexts;
import org.peft4j.djl.models.bert.BertConfig;
import org.peft4j.djl.models.bert.BertModel;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierHead;

/** A tiny random encoder over MiniLM's real vocabulary, so that the real tokenizer and data fit; fast to train. */
final class TinyClassifier {
    private TinyClassifier() {}

    /** A seeded random sample of the bundled spam data. */
    static List<LabeledText> sample(int n) throws IOException {
        List<LabeledText> rows = new ArrayList<>(LabeledTexts.readTsv(Path.of("../data/spamassassin.tsv")));
        Collections.shuffle(rows, new Random(1));
        return rows.subList(0, n);
    }

    /** Puts a new tiny classifier (hidden 16, one layer) into {@code model}. */
    static BertSequenceClassifier create(Model model, float dropout) {
        return create(model, dropout, 2);
    }

    /** Puts a new tiny encoder (hidden 16, one layer) with a head of {@code outputs} into {@code model}. */
    static BertSequenceClassifier create(Model model, float dropout, int outputs) {
        BertModel encoder = new BertModel(new BertConfig(30522, 16, 1, 2, 32, 128, 2, 1e-12f, dropout, dropout));
        encoder.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 8));
        BertSequenceClassifier classifier = new BertSequenceClassifier(encoder, outputs, ClassifierHead.MEAN_POOLING)
                .initializeHead(model.getNDManager());
        model.setBlock(classifier);
        return classifier;
    }

    /** The real all-MiniLM-L6-v2 tokenizer, cutting at 32 tokens. */
    static BertTokenizer tokenizer() throws IOException {
        try (InputStream json = TinyClassifier.class.getResourceAsStream("/all-minilm-l6-v2-tokenizer.json")) {
            return BertTokenizer.fromTokenizerJson(json, 32);
        }
    }
}
