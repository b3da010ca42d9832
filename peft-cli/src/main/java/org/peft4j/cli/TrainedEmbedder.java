package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.embedding.EmbeddingPooling;
import org.peft4j.djl.tasks.embedding.SentenceEmbedder;
import org.peft4j.djl.train.ProgressBar;

/**
 * A sentence-embedding model that {@code peft4j train} ({@code task_type: FEATURE_EXTRACTION}) or
 * {@code export} wrote, loaded again for {@code eval}, {@code predict} and {@code export}: the
 * adapter on a fresh copy of its base, pooled as the adapter records it (else as the base's
 * sentence-transformers files say), or a whole model exported as a Hugging Face directory with
 * its sentence-transformers pooling files ({@link EmbeddingExport}).
 */
final class TrainedEmbedder implements AutoCloseable {
    /** Texts per forward pass when embedding. */
    private static final int BATCH = 32;

    final RunRecord run;
    final Model model;
    final SentenceEmbedder embedder;
    /** The adapter, or null for a whole model. */
    final PeftModel peft;
    final BertTokenizer tokenizer;
    /** Where the encoder and its tokenizer came from. */
    final PretrainedEncoder base;

    private TrainedEmbedder(RunRecord run, Model model, SentenceEmbedder embedder, PeftModel peft,
            BertTokenizer tokenizer, PretrainedEncoder base) {
        this.run = run;
        this.model = model;
        this.embedder = embedder;
        this.peft = peft;
        this.tokenizer = tokenizer;
        this.base = base;
    }

    /**
     * Loads the embedding model of {@code run} from {@code directory}.
     *
     * @throws IllegalArgumentException if the directory holds no embedding model, or a damaged one
     */
    static TrainedEmbedder load(Path directory, RunRecord run) throws IOException {
        PretrainedEncoder base;
        try {
            base = run.holdsAdapter() ? TrainedModel.encoder(run.modelNameOrPath()) : PretrainedEncoder.huggingFace(directory);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(TrainedModel.where(directory) + ": " + e.getMessage());
        }
        Model model = Model.newInstance("peft4j");
        try {
            NDManager manager = model.getNDManager();
            SentenceEmbedder embedder;
            PeftModel peft = null;
            if (run.holdsAdapter()) {
                AdapterCheckpoint adapter = AdapterCheckpoint.load(directory);
                String recorded = adapter.metadata().get(SentenceEmbedder.POOLING_METADATA);
                EmbeddingPooling pooling = recorded != null ? EmbeddingPooling.fromRecordedName(recorded)
                        : EmbeddingPooling.forEncoder(base);
                embedder = new SentenceEmbedder(base.loadEncoder(manager), pooling);
                try {
                    peft = Peft.load(embedder, adapter, directory.toString());
                } catch (AdapterFormatException e) {
                    throw new IllegalArgumentException(e.getMessage(), e); // it does not fit the base: not damage
                }
            } else {
                embedder = new SentenceEmbedder(EncoderFamilies.fromHuggingFace(directory, manager),
                        EmbeddingPooling.fromSentenceTransformers(directory));
            }
            model.setBlock(embedder);
            return new TrainedEmbedder(run, model, embedder, peft, base.tokenizer(run.cutoffLen()), base);
        } catch (IllegalArgumentException e) {
            model.close();
            if (e.getCause() instanceof AdapterFormatException) {
                throw e;
            }
            throw TrainedModel.damaged(directory, e.getMessage());
        } catch (IOException | AdapterFormatException | SafeTensorsFormatException e) {
            model.close();
            throw TrainedModel.damaged(directory, e instanceof NoSuchFileException missing ? missing.getFile()
                    + " is missing" : e instanceof IOException ? e.toString() : e.getMessage());
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * The embedding of each text, [texts][hidden], as the model pools it (normalised if its pooling
     * normalises), with a progress bar on {@code progress} if not null.
     */
    float[][] embed(List<String> texts, PrintStream progress) {
        float[][] out = new float[texts.size()][];
        try (ProgressBar bar = progress == null ? null : new ProgressBar(progress, "predict", texts.size());
                NDManager scope = model.getNDManager().newSubManager()) {
            ParameterStore ps = new ParameterStore(scope, false);
            for (int from = 0; from < texts.size(); from += BATCH) {
                try (NDManager batch = scope.newSubManager()) {
                    List<String> chunk = texts.subList(from, Math.min(texts.size(), from + BATCH));
                    NDList inputs = tokenizer.encode(batch, chunk);
                    float[] flat = embedder.embed(ps, inputs.get(0), inputs.get(1), inputs.get(2), false).toFloatArray();
                    int width = flat.length / chunk.size();
                    for (int i = 0; i < chunk.size(); i++) {
                        out[from + i] = Arrays.copyOfRange(flat, i * width, (i + 1) * width);
                    }
                }
                if (bar != null) {
                    bar.update(Math.min(texts.size(), from + BATCH), "");
                }
            }
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
        model.close();
    }
}
