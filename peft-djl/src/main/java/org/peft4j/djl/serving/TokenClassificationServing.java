package org.peft4j.djl.serving;

import ai.djl.Model;
import ai.djl.modality.nlp.translator.NamedEntity;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Block;
import ai.djl.translate.TranslateException;
import ai.djl.translate.Translator;
import ai.djl.util.Pair;
import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Type;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;

/**
 * Token classification served through DJL: {@code String -> NamedEntity[]}, as DJL's Hugging Face
 * extension serves taggers. The model is a {@code TOKEN_CLS} adapter directory's tagger (its base
 * from the run record or the argument {@value FineTunedDirectory#BASE}, its tags as the run's
 * labels); the text is split into words at white space, each word is tagged by its first token as
 * training tagged it, and the tags' entities (seqeval's chunks) come back with their character
 * spans in the text and the mean probability of their words' tags.
 */
public final class TokenClassificationServing implements ServedTask {
    private static final Set<Pair<Type, Type>> TYPES = Set.of(new Pair<>(String.class, NamedEntity[].class));

    /** Creates the task (the service loader does). */
    public TokenClassificationServing() {}

    @Override
    public TaskType taskType() {
        return TaskType.TOKEN_CLS;
    }

    @Override
    public Set<Pair<Type, Type>> supportedTypes() {
        return TYPES;
    }

    /**
     * Builds the tagger: the base encoder of any family with a new head, the adapters merged before
     * training, then the adapter (merged too with the argument {@value FineTunedDirectory#MERGE}).
     *
     * @throws IllegalArgumentException if the directory is a whole model, or its tags are unknown
     */
    @Override
    public Block newBlock(Model model, FineTunedDirectory directory, Map<String, ?> arguments) throws IOException {
        if (!directory.holdsAdapter()) {
            throw new IllegalArgumentException(directory.path() + " holds a whole token-classification model; served"
                    + " are TOKEN_CLS adapter directories, as peft4j train writes them");
        }
        if (directory.labels().isEmpty()) {
            throw new IllegalArgumentException(directory.path() + ": the tags are unknown (no "
                    + FineTunedDirectory.RUN_RECORD + "); give them with the argument \"" + FineTunedDirectory.LABELS + "\"");
        }
        NDManager manager = model.getNDManager();
        AdapterCheckpoint adapter = FineTunedAdapter.read(directory, arguments);
        TokenClassifier tagger = new TokenClassifier(directory.base().loadEncoder(manager), directory.labels().size())
                .initializeHead(manager);
        FineTunedAdapter.attach(tagger, directory, adapter, arguments);
        return tagger;
    }

    /**
     * Creates the {@code String -> NamedEntity[]} translator, its tokenizer closed with the model.
     *
     * @throws TranslateException if the tokenizer does not load
     */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newTranslator(Class<I> input, Class<O> output, Model model,
            FineTunedDirectory directory, Map<String, ?> arguments) throws TranslateException {
        if (input != String.class || output != NamedEntity[].class) {
            throw new IllegalArgumentException("token classification serves String -> NamedEntity[], not "
                    + input.getName() + " -> " + output.getName());
        }
        WordTokenizer tokenizer;
        try (InputStream json = directory.base().openTokenizer()) {
            tokenizer = WordTokenizer.fromTokenizerJson(json, directory.maxLength());
        } catch (IOException | RuntimeException e) {
            throw new TranslateException("the tokenizer of " + directory.base() + " does not load: " + e.getMessage(), e);
        }
        model.getNDManager().attachInternal(UUID.randomUUID().toString(), tokenizer);
        return (Translator<I, O>) new TaggingTranslator(new TaggingTask(tokenizer, directory.labels()));
    }
}
