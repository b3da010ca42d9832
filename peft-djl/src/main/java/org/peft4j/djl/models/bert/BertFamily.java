package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDManager;
import java.util.List;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.EncoderFamily;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.TextEncoder;

/** The BERT family ({@code model_type} {@code bert}: BERT, MiniLM, E5, BGE), registered as an {@link EncoderFamily}. */
public final class BertFamily implements EncoderFamily {
    /** The {@code model_type} this family reads. */
    public static final String MODEL_TYPE = "bert";

    @Override
    public List<String> modelTypes() {
        return List.of(MODEL_TYPE);
    }

    @Override
    public TextEncoder fromHuggingFace(Checkpoint checkpoint, NDManager manager) {
        return BertLoader.fromCheckpoint(checkpoint, manager);
    }

    /** A {@link BertSequenceClassifier}; {@code head} is a {@link ClassifierHead#recordedName()}. */
    @Override
    public TextClassifier sequenceClassifier(TextEncoder encoder, int numLabels, String head, NDManager manager) {
        if (!(encoder instanceof BertModel bert)) {
            throw new IllegalArgumentException("a BERT head needs a BertModel, got model_type " + encoder.modelType());
        }
        return new BertSequenceClassifier(bert, numLabels, ClassifierHead.fromRecordedName(head)).initializeHead(manager);
    }
}
