package org.peft4j.djl.serving;

import ai.djl.modality.nlp.translator.NamedEntity;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.translate.Batchifier;
import ai.djl.translate.Translator;
import ai.djl.translate.TranslatorContext;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.djl.tasks.tagging.Entity;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.train.TrainingTask;

/**
 * Texts to named entities for a tagger whose output is logits [B, T, tags]: each text is split into
 * words at white space (their character spans kept), a batch is encoded as {@link TaggingTask}
 * encodes training sentences (each word's first token marked), each word takes the tag of its first
 * token, and the entities those tags form become {@link NamedEntity}s: the type, the mean
 * probability of the words' tags, the index of the first word, the text they cover and its span.
 */
final class TaggingTranslator implements Translator<String, NamedEntity[]> {
    private static final Pattern WORD = Pattern.compile("\\S+");
    private static final String WORDS = "words";
    private static final String BATCH = "batch";
    private final TaggingTask task;

    TaggingTranslator(TaggingTask task) {
        this.task = task;
    }

    /** Padding, not stacking: the batch methods below pad to the longest text. */
    @Override
    public Batchifier getBatchifier() {
        return Batchifier.STACK;
    }

    @Override
    public NDList processInput(TranslatorContext ctx, String input) {
        NDList batch = batchProcessInput(ctx, List.of(input));
        NDList single = new NDList(batch.size());
        batch.forEach(a -> single.add(a.squeeze(0)));
        return single;
    }

    @Override
    public NDList batchProcessInput(TranslatorContext ctx, List<String> inputs) {
        List<Words> words = new ArrayList<>(inputs.size());
        List<TaggedSentence> sentences = new ArrayList<>(inputs.size());
        for (String text : inputs) {
            Words w = Words.of(text);
            words.add(w);
            // the tags only mark each word's first token; any of the model's tags does
            sentences.add(new TaggedSentence(w.texts(), Collections.nCopies(w.texts().size(), task.tags().get(0))));
        }
        TrainingTask.Batch batch = task.batch(ctx.getNDManager(), sentences);
        ctx.setAttachment(WORDS, words);
        ctx.setAttachment(BATCH, new Object[] {sentences, batch});
        return batch.inputs();
    }

    @Override
    public NamedEntity[] processOutput(TranslatorContext ctx, NDList list) {
        return entities(ctx, list.get(0).expandDims(0)).get(0);
    }

    @Override
    public List<NamedEntity[]> batchProcessOutput(TranslatorContext ctx, NDList list) {
        return entities(ctx, list.get(0));
    }

    @SuppressWarnings("unchecked")
    private List<NamedEntity[]> entities(TranslatorContext ctx, NDArray logits) {
        List<Words> words = (List<Words>) ctx.getAttachment(WORDS);
        Object[] saved = (Object[]) ctx.getAttachment(BATCH);
        List<TaggedSentence> sentences = (List<TaggedSentence>) saved[0];
        TrainingTask.Batch batch = (TrainingTask.Batch) saved[1];
        List<TaggingTask.Prediction> predictions = task.predictions(sentences, batch, logits);
        // the probability of each word's tag: the largest softmax at its first token, in word order
        float[] best = logits.softmax(-1).max(new int[] {-1}).toFloatArray();
        long[] firsts = batch.targets().singletonOrThrow().toLongArray();
        int length = (int) logits.getShape().get(1);
        List<NamedEntity[]> out = new ArrayList<>(predictions.size());
        for (int row = 0; row < predictions.size(); row++) {
            List<Float> scores = new ArrayList<>();
            for (int j = 0; j < length; j++) {
                if (firsts[row * length + j] >= 0) {
                    scores.add(best[row * length + j]);
                }
            }
            Words w = words.get(row);
            int[] original = w.indexOf(predictions.get(row).words());
            List<NamedEntity> entities = new ArrayList<>();
            for (Entity e : predictions.get(row).entities()) {
                double score = 0;
                for (int i = e.start(); i <= e.end(); i++) {
                    score += scores.get(i);
                }
                int start = w.starts().get(original[e.start()]);
                int end = w.ends().get(original[e.end()]);
                entities.add(new NamedEntity(e.type(), (float) (score / (e.end() - e.start() + 1)), original[e.start()],
                        w.text().substring(start, end), start, end));
            }
            out.add(entities.toArray(NamedEntity[]::new));
        }
        return out;
    }

    /** A text's words at white space and their character spans [start, end). */
    private record Words(String text, List<String> texts, List<Integer> starts, List<Integer> ends) {
        /**
         * The index among these words of each word that was tagged, in order: all of them, less any
         * the tokenizer gave no token or cut at its limit.
         */
        int[] indexOf(List<String> tagged) {
            int[] out = new int[tagged.size()];
            int j = 0;
            for (int i = 0; i < out.length; i++) {
                while (!texts.get(j).equals(tagged.get(i))) {
                    j++;
                }
                out[i] = j++;
            }
            return out;
        }

        static Words of(String text) {
            List<String> texts = new ArrayList<>();
            List<Integer> starts = new ArrayList<>();
            List<Integer> ends = new ArrayList<>();
            Matcher m = WORD.matcher(text);
            while (m.find()) {
                texts.add(m.group());
                starts.add(m.start());
                ends.add(m.end());
            }
            if (texts.isEmpty()) {
                throw new IllegalArgumentException("the text has no words to tag: " + Excerpt.quote(text));
            }
            return new Words(text, texts, starts, ends);
        }
    }
}
