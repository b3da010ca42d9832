package org.peft4j.tribuo.tagging;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.internal.Excerpt;
import org.tribuo.Example;
import org.tribuo.Feature;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.impl.ListExample;
import org.tribuo.provenance.DataProvenance;
import org.tribuo.sequence.MutableSequenceDataset;
import org.tribuo.sequence.SequenceDataset;
import org.tribuo.sequence.SequenceExample;

/**
 * How a tagged sentence travels through Tribuo's sequence API: one {@link SequenceExample} per
 * sentence and, in it, one {@link Example} per word, whose output is the word's tag and whose
 * features include one feature named {@value #WORD_PREFIX} followed by the word itself (value 1),
 * the convention of Tribuo's own sequence examples ({@code W=gorilla} in its
 * {@code SequenceDataGenerator}) and of the word features CRF users already build. Other features
 * may sit beside it (a CRF's suffixes, shapes, neighbours); the transformer reads only the word.
 *
 * <p>So a {@link SequenceDataset} made for Tribuo's {@code CRFTrainer} trains {@link TaggingPeftTrainer}
 * unchanged, and both can be compared on the same test data. One caution: an
 * {@code ImmutableSequenceDataset} built with a model's feature map drops the features it has not
 * seen, the word feature of every new word among them; keep test data in a
 * {@link MutableSequenceDataset} (or give the examples to {@code predict} directly), as the model
 * needs the words themselves.
 *
 * @see org.tribuo.sequence.SequenceDataset
 */
public final class TaggedSequences {
    /** The prefix of the feature whose name carries the word: {@code W=} then the word. */
    public static final String WORD_PREFIX = "W=";

    private static final LabelFactory LABELS = new LabelFactory();

    private TaggedSequences() {}

    /**
     * One sentence as a sequence example: word i becomes an example with the output
     * {@code tags.get(i)} and the one feature {@code W=word}.
     *
     * @throws IllegalArgumentException if the lists differ in length or are empty
     */
    public static SequenceExample<Label> example(List<String> words, List<String> tags) {
        TaggedSentence sentence = new TaggedSentence(words, tags);
        List<Label> outputs = new ArrayList<>(sentence.size());
        sentence.tags().forEach(tag -> outputs.add(new Label(tag)));
        return build(sentence.tokens(), outputs);
    }

    /**
     * One sentence to tag: as {@link #example}, with Tribuo's unknown label
     * ({@link LabelFactory#UNKNOWN_LABEL}) as every word's output.
     *
     * @throws IllegalArgumentException if there are no words
     */
    public static SequenceExample<Label> unlabelled(List<String> words) {
        if (words.isEmpty()) {
            throw new IllegalArgumentException("a sentence to tag needs at least one word");
        }
        return build(words, Collections.nCopies(words.size(), LabelFactory.UNKNOWN_LABEL));
    }

    private static SequenceExample<Label> build(List<String> words, List<Label> outputs) {
        List<Example<Label>> out = new ArrayList<>(words.size());
        for (int i = 0; i < words.size(); i++) {
            ListExample<Label> word = new ListExample<>(outputs.get(i));
            word.add(new Feature(WORD_PREFIX + words.get(i), 1.0));
            out.add(word);
        }
        return new SequenceExample<>(out);
    }

    /**
     * Tagged sentences (as peft-api's {@code TaggedSentences} reads them from CoNLL or JSON Lines
     * files) as a mutable sequence dataset, one {@link #example} each.
     *
     * @param provenance where the sentences come from
     */
    public static MutableSequenceDataset<Label> dataset(Collection<TaggedSentence> sentences, DataProvenance provenance) {
        MutableSequenceDataset<Label> data = new MutableSequenceDataset<>(provenance, LABELS);
        for (TaggedSentence sentence : sentences) {
            data.add(example(sentence.tokens(), sentence.tags()));
        }
        return data;
    }

    /**
     * The words of a sentence, read from each example's {@code prefix} feature.
     *
     * @param index the sentence's position in its dataset or batch, for messages
     * @throws IllegalArgumentException if the sentence has no words, or a word has no feature, or
     *     more than one, that starts with {@code prefix}
     */
    static List<String> words(SequenceExample<?> sentence, String prefix, int index) {
        if (sentence.size() == 0) {
            throw new IllegalArgumentException("sequence example " + index + " has no words: a sentence to tag needs"
                    + " at least one example (one per word)");
        }
        List<String> words = new ArrayList<>(sentence.size());
        for (int i = 0; i < sentence.size(); i++) {
            String word = null;
            for (Feature feature : sentence.get(i)) {
                if (feature.getName().startsWith(prefix)) {
                    if (word != null) {
                        throw new IllegalArgumentException("word " + i + " of sequence example " + index + " has two"
                                + " features named " + prefix + "...: " + Excerpt.quote(prefix + word) + " and "
                                + Excerpt.quote(feature.getName()) + "; each word needs exactly one");
                    }
                    word = feature.getName().substring(prefix.length());
                }
            }
            if (word == null || word.isEmpty()) {
                List<String> names = new ArrayList<>();
                sentence.get(i).forEach(f -> names.add(f.getName()));
                throw new IllegalArgumentException("word " + i + " of sequence example " + index + " has no feature"
                        + " named " + prefix + "WORD that carries the word; its features are "
                        + Excerpt.quote(names.toString()) + " (build examples with TaggedSequences.example, or set"
                        + " the trainer's wordPrefix)");
            }
            words.add(word);
        }
        return words;
    }
}
