package org.peft4j.djl.serving;

import ai.djl.Model;
import ai.djl.modality.Classifications;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.util.Pair;
import java.io.IOException;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.models.bert.BertSequenceClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.ClassifierDirectory;
import org.peft4j.djl.models.bert.ClassifierHead;

/**
 * Sequence classification served through DJL: {@code String -> Classifications}, as DJL's Hugging
 * Face extension serves text classifiers. The model is the one {@code peft4j predict} runs: the
 * adapter on its base, with the head the adapter records (or, for a whole model, the directory's
 * classifier); the translator tokenizes with the model's own tokenizer under the run's
 * {@code cutoff_len}, pads each batch to its longest text, and gives the softmax of the logits as
 * one probability per label, in the model's label order.
 */
public final class TextClassificationServing implements ServedTask {
    private static final Set<Pair<Type, Type>> TYPES = Set.of(new Pair<>(String.class, Classifications.class));

    /** Creates the task (the service loader does). */
    public TextClassificationServing() {}

    @Override
    public TaskType taskType() {
        return TaskType.SEQ_CLS;
    }

    @Override
    public Set<Pair<Type, Type>> supportedTypes() {
        return TYPES;
    }

    /**
     * Builds the classifier: the whole model of the directory, or its base with the adapters merged
     * before training and then the adapter (merged too with the argument {@value FineTunedDirectory#MERGE}).
     *
     * @throws IllegalArgumentException if the labels are unknown or the files do not fit together
     */
    @Override
    public Block newBlock(Model model, FineTunedDirectory directory, Map<String, ?> arguments) throws IOException {
        NDManager manager = model.getNDManager();
        if (!directory.holdsAdapter()) {
            ClassifierDirectory.Loaded loaded = ClassifierDirectory.load(directory.path(), manager);
            if (loaded.labels().size() != directory.labels().size()) {
                throw new IllegalArgumentException(directory.path() + ": " + directory.labels().size()
                        + " label names given for a classifier of " + loaded.labels().size() + " outputs");
            }
            return loaded.classifier();
        }
        if (directory.labels().size() < 2) {
            throw new IllegalArgumentException(directory.path() + ": the label names are unknown (no "
                    + FineTunedDirectory.RUN_RECORD + "); give them with the argument \"" + FineTunedDirectory.LABELS + "\"");
        }
        AdapterCheckpoint adapter = FineTunedAdapter.read(directory, arguments);
        String head = adapter.metadata().getOrDefault(BertSequenceClassifier.HEAD_METADATA,
                ClassifierHead.POOLER.recordedName());
        BertSequenceClassifier classifier = new BertSequenceClassifier(directory.base().load(manager),
                directory.labels().size(), ClassifierHead.fromRecordedName(head)).initializeHead(manager);
        FineTunedAdapter.attach(classifier, directory, adapter, arguments);
        return classifier;
    }

    /**
     * Creates the {@code String -> Classifications} translator, its tokenizer closed with the model.
     *
     * @throws TranslateException if the tokenizer does not load
     */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newTranslator(Class<I> input, Class<O> output, Model model,
            FineTunedDirectory directory, Map<String, ?> arguments) throws TranslateException {
        if (input != String.class || output != Classifications.class) {
            throw new IllegalArgumentException("sequence classification serves String -> Classifications, not "
                    + input.getName() + " -> " + output.getName());
        }
        BertTokenizer tokenizer;
        try {
            tokenizer = directory.base().tokenizer(directory.maxLength());
        } catch (IOException e) {
            throw new TranslateException("the tokenizer of " + directory.base() + " does not load: " + e.getMessage(), e);
        }
        model.getNDManager().attachInternal(UUID.randomUUID().toString(), tokenizer);
        return (Translator<I, O>) new ClassificationTranslator(tokenizer, directory.labels());
    }
}
