package org.peft4j.djl.serving;

import ai.djl.Model;
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
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;

/**
 * Sentence embeddings served through DJL: {@code String -> float[]}, as DJL's Hugging Face
 * extension serves embedding models. The model is a {@code FEATURE_EXTRACTION} adapter directory's
 * embedder: its base (from the run record, the adapter's {@code base_model_name_or_path} or the
 * argument {@value FineTunedDirectory#BASE}) with the pooling the adapter records (else the base's
 * own: {@link EmbeddingPooling#forEncoder}), then the adapter.
 */
public final class EmbeddingServing implements ServedTask {
    private static final Set<Pair<Type, Type>> TYPES = Set.of(new Pair<>(String.class, float[].class));

    /** Creates the task (the service loader does). */
    public EmbeddingServing() {}

    @Override
    public TaskType taskType() {
        return TaskType.FEATURE_EXTRACTION;
    }

    @Override
    public Set<Pair<Type, Type>> supportedTypes() {
        return TYPES;
    }

    /**
     * Builds the embedder: the base encoder of any family with its pooling, the adapters merged
     * before training, then the adapter (merged too with the argument {@value FineTunedDirectory#MERGE}).
     *
     * @throws IllegalArgumentException if the directory is a whole model or the adapter does not fit
     */
    @Override
    public Block newBlock(Model model, FineTunedDirectory directory, Map<String, ?> arguments) throws IOException {
        if (!directory.holdsAdapter()) {
            throw new IllegalArgumentException(directory.path() + " holds a whole model; served are FEATURE_EXTRACTION"
                    + " adapter directories, as peft4j train writes them (a merged encoder is served by ONNX Runtime"
                    + " or langchain4j after peft4j export --format onnx)");
        }
        NDManager manager = model.getNDManager();
        AdapterCheckpoint adapter = FineTunedAdapter.read(directory, arguments);
        String recorded = adapter.metadata().get(SentenceEmbedder.POOLING_METADATA);
        EmbeddingPooling pooling = recorded != null ? EmbeddingPooling.fromRecordedName(recorded)
                : EmbeddingPooling.forEncoder(directory.base());
        SentenceEmbedder embedder = new SentenceEmbedder(directory.base().loadEncoder(manager), pooling);
        FineTunedAdapter.attach(embedder, directory, adapter, arguments);
        return embedder;
    }

    /**
     * Creates the {@code String -> float[]} translator, its tokenizer closed with the model.
     *
     * @throws TranslateException if the tokenizer does not load
     */
    @Override
    @SuppressWarnings("unchecked")
    public <I, O> Translator<I, O> newTranslator(Class<I> input, Class<O> output, Model model,
            FineTunedDirectory directory, Map<String, ?> arguments) throws TranslateException {
        if (input != String.class || output != float[].class) {
            throw new IllegalArgumentException("sentence embeddings serve String -> float[], not " + input.getName()
                    + " -> " + output.getName());
        }
        BertTokenizer tokenizer;
        try {
            tokenizer = directory.base().tokenizer(directory.maxLength());
        } catch (IOException e) {
            throw new TranslateException("the tokenizer of " + directory.base() + " does not load: " + e.getMessage(), e);
        }
        model.getNDManager().attachInternal(UUID.randomUUID().toString(), tokenizer);
        return (Translator<I, O>) new EmbeddingTranslator(tokenizer);
    }
}
