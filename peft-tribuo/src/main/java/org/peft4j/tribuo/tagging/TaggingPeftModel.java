package org.peft4j.tribuo.tagging;

import ai.djl.Model;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.oracle.labs.mlrg.olcut.util.Pair;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TaggingMetrics;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.TokenCrossEntropyLoss;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.TrainingTask;
import org.peft4j.tribuo.internal.BytesMessage;
import org.peft4j.tribuo.io.ModelReader;
import org.tribuo.Example;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.classification.LabelFactory;
import org.tribuo.impl.ModelDataCarrier;
import org.tribuo.protos.core.ModelDataProto;
import org.tribuo.protos.core.SequenceModelProto;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.sequence.SequenceDataset;
import org.tribuo.sequence.SequenceExample;
import org.tribuo.sequence.SequenceModel;

/**
 * A Tribuo sequence model made of a pretrained transformer encoder and a {@code TOKEN_CLS} adapter
 * (LoRA, IA3, prefix or prompt, with its {@code classifier} head), as {@link TaggingPeftTrainer}
 * trains it. {@link #predict(SequenceExample)} reads each word from its {@code W=word} feature
 * ({@link TaggedSequences}), runs peft-djl's {@link TokenClassifier} with the adapter, and returns
 * one {@link Prediction} per word: the tag whose softmax probability on the word's first sub-token
 * is highest, with the probabilities of all tags. Tribuo's {@code LabelSequenceEvaluator} scores
 * the predicted tags word by word; {@link #entityMetrics} scores the entities they form as seqeval
 * does (entity precision, recall and F1).
 *
 * <p>A sentence longer than {@code maxLength} tokens is tagged in consecutive windows of whole
 * words, each encoded on its own, so every word gets a prediction. A word that the tokenizer turns
 * into no token at all (such as one made only of control characters) cannot be tagged and is
 * refused, as is a sentence without words and a word whose true tag (its example's output) is a
 * label the model never saw in training; words with Tribuo's unknown label
 * ({@link LabelFactory#UNKNOWN_LABEL}) are simply tagged.
 *
 * <p>It keeps where the encoder comes from ({@link PretrainedEncoder}) and the adapter's two files,
 * never the encoder's weights; Java and protobuf serialization ({@link #serialize},
 * {@code SequenceModel.deserialize}) store those, and the encoder is loaded again on
 * the first prediction, so it must be where it was (or on the classpath). {@link #saveAdapter}
 * writes the adapter in Hugging Face PEFT's layout, which Python's
 * {@code PeftModelForTokenClassification} and peft-djl's {@code Peft.load} read. {@link #close}
 * frees the native memory of the loaded encoder.
 */
public final class TaggingPeftModel extends SequenceModel<Label> implements AutoCloseable {
    private static final long serialVersionUID = 1L;
    private static final int PROTO_VERSION = 0;
    private static final BytesMessage PROTO = new BytesMessage("TaggingPeftModelProto", List.of("metadata",
            "encoder_kind", "encoder_location", "encoder_tokenizer", "max_length", "word_prefix", "adapter_config",
            "adapter_weights", "epoch_losses"), Map.of("metadata", ModelDataProto.getDescriptor()));
    /** Windows (parts of sentences) per forward pass. */
    private static final int BATCH = 32;

    private final PretrainedEncoder encoder;
    private final int maxLength;
    private final String wordPrefix;
    private final String adapterConfig;
    private final byte[] adapterWeights;
    private final float[] epochLosses;
    private transient Runtime runtime;

    /** The encoder with its adapter, loaded into DJL, and the task that batches words for it. */
    private static final class Runtime implements AutoCloseable {
        final Model model;
        final WordTokenizer tokenizer;
        final TaggingTask task;

        Runtime(Model model, WordTokenizer tokenizer, TaggingTask task) {
            this.model = model;
            this.tokenizer = tokenizer;
            this.task = task;
        }

        @Override
        public void close() {
            tokenizer.close();
            model.close();
        }
    }

    TaggingPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features,
            ImmutableOutputInfo<Label> outputs, PretrainedEncoder encoder, int maxLength, String wordPrefix,
            AdapterCheckpoint adapter, float[] epochLosses) {
        this(name, provenance, features, outputs, encoder, maxLength, wordPrefix, adapter.configJson(),
                adapter.weightBytes(), epochLosses);
    }

    private TaggingPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features,
            ImmutableOutputInfo<Label> outputs, PretrainedEncoder encoder, int maxLength, String wordPrefix,
            String adapterConfig, byte[] adapterWeights, float[] epochLosses) {
        super(name, provenance, features, outputs);
        this.encoder = encoder;
        this.maxLength = maxLength;
        this.wordPrefix = wordPrefix;
        this.adapterConfig = adapterConfig;
        this.adapterWeights = adapterWeights;
        this.epochLosses = epochLosses;
    }

    /** Where the encoder comes from. */
    public PretrainedEncoder encoder() {
        return encoder;
    }

    /** The prefix of the feature that carries each word. */
    public String wordPrefix() {
        return wordPrefix;
    }

    /** The tags in class order: the head's output i is the tag with Tribuo output id i. */
    public List<String> tags() {
        return tags(outputIDMap);
    }

    /** The mean training loss of each epoch of the run that trained this model. */
    public float[] epochLosses() {
        return epochLosses.clone();
    }

    /** The adapter (with its head) as Hugging Face PEFT lays it out. */
    public AdapterCheckpoint adapter() {
        return AdapterCheckpoint.parse(adapterConfig, adapterWeights, getName());
    }

    /** Saves the adapter (with its head) in Hugging Face PEFT's layout; the directory is replaced as one unit. */
    public void saveAdapter(Path directory) throws IOException {
        adapter().save(directory);
    }

    static List<String> tags(ImmutableOutputInfo<Label> outputs) {
        List<String> names = new ArrayList<>(outputs.size());
        for (int id = 0; id < outputs.size(); id++) {
            names.add(outputs.getOutput(id).getLabel());
        }
        return names;
    }

    private synchronized Runtime runtime() {
        if (runtime == null) {
            List<String> tags = tags();
            Model model = Model.newInstance("peft4j-tribuo-tagging");
            WordTokenizer tokenizer = null;
            try {
                TokenClassifier classifier = new TokenClassifier(encoder.loadEncoder(model.getNDManager()), tags.size())
                        .initializeHead(model.getNDManager());
                model.setBlock(classifier);
                Peft.load(classifier, adapter(), getName());
                tokenizer = TaggingPeftTrainer.wordTokenizer(encoder, maxLength);
                runtime = new Runtime(model, tokenizer, new TaggingTask(tokenizer, tags));
            } catch (IOException | RuntimeException e) {
                model.close();
                if (e instanceof IOException) {
                    throw new UncheckedIOException("cannot load the encoder " + encoder + " of " + getName(),
                            (IOException) e);
                }
                throw (RuntimeException) e;
            }
        }
        return runtime;
    }

    /** Tags one sentence: one prediction per word, in order (see {@link #predict(Iterable)}). */
    @Override
    public List<Prediction<Label>> predict(SequenceExample<Label> sentence) {
        return predict(List.of(sentence)).get(0);
    }

    /**
     * Tags sentences, batching their windows {@value #BATCH} to a forward pass.
     *
     * @throws IllegalArgumentException naming the sentence (its position among {@code sentences})
     *     and word if a sentence has no words, a word lacks its word feature or gives the tokenizer
     *     no token, or a word's true tag is a label the model never saw in training
     */
    @Override
    public synchronized List<List<Prediction<Label>>> predict(Iterable<SequenceExample<Label>> sentences) {
        Runtime loaded = runtime();
        List<SequenceExample<Label>> examples = new ArrayList<>();
        List<Window> windows = new ArrayList<>();
        for (SequenceExample<Label> sentence : sentences) {
            int index = examples.size();
            List<String> words = TaggedSequences.words(sentence, wordPrefix, index);
            checkKnownTags(sentence, index);
            windows.addAll(windows(loaded.tokenizer, words, index));
            examples.add(sentence);
        }
        List<List<Prediction<Label>>> out = new ArrayList<>(examples.size());
        for (SequenceExample<Label> sentence : examples) {
            out.add(new ArrayList<>(sentence.size()));
        }
        for (int from = 0; from < windows.size(); from += BATCH) {
            List<Window> batch = windows.subList(from, Math.min(windows.size(), from + BATCH));
            List<float[][]> probabilities = probabilities(loaded, batch);
            for (int w = 0; w < batch.size(); w++) {
                Window window = batch.get(w);
                SequenceExample<Label> sentence = examples.get(window.sentence);
                for (int i = 0; i < window.words.size(); i++) {
                    out.get(window.sentence).add(prediction(probabilities.get(w)[i], sentence.get(window.start + i)));
                }
            }
        }
        return out;
    }

    /** Tags every sentence of {@code data} (see {@link #predict(Iterable)}). */
    @Override
    public List<List<Prediction<Label>>> predict(SequenceDataset<Label> data) {
        return predict((Iterable<SequenceExample<Label>>) data);
    }

    /**
     * Seqeval's entity-level scores (micro-averaged entity precision, recall and F1, each type's
     * figures, and word accuracy; peft-djl's {@link TaggingMetrics}) of this model's predicted tags
     * against the true tags of {@code data}, whose outputs must all be tags the model knows.
     */
    public TaggingMetrics entityMetrics(SequenceDataset<Label> data) {
        return entityMetrics(data.getData(), predict(data));
    }

    /**
     * Seqeval's entity-level scores of predicted tags against true ones: {@code predictions.get(i)}
     * holds the predictions of the words of {@code truth.get(i)}, such as any Tribuo
     * {@code SequenceModel<Label>} returns them (a CRF's too).
     *
     * @throws IllegalArgumentException if the counts of sentences or of a sentence's words differ
     */
    public static TaggingMetrics entityMetrics(List<SequenceExample<Label>> truth,
            List<List<Prediction<Label>>> predictions) {
        List<List<String>> trueTags = new ArrayList<>(truth.size());
        List<List<String>> predictedTags = new ArrayList<>(predictions.size());
        for (SequenceExample<Label> sentence : truth) {
            List<String> tags = new ArrayList<>(sentence.size());
            sentence.forEach(word -> tags.add(word.getOutput().getLabel()));
            trueTags.add(tags);
        }
        for (List<Prediction<Label>> sentence : predictions) {
            List<String> tags = new ArrayList<>(sentence.size());
            sentence.forEach(word -> tags.add(word.getOutput().getLabel()));
            predictedTags.add(tags);
        }
        return TaggingMetrics.of(trueTags, predictedTags);
    }

    private void checkKnownTags(SequenceExample<Label> sentence, int index) {
        for (int i = 0; i < sentence.size(); i++) {
            Label tag = sentence.get(i).getOutput();
            if (!tag.equals(LabelFactory.UNKNOWN_LABEL) && outputIDMap.getID(tag) < 0) {
                throw new IllegalArgumentException("word " + i + " of sequence example " + index + " has the tag "
                        + Excerpt.quote(tag.getLabel()) + ", which " + getName() + " never saw in training; its tags"
                        + " are " + tags() + " (give unlabelled words LabelFactory.UNKNOWN_LABEL)");
            }
        }
    }

    /** A run of whole words of one sentence that fits the tokenizer's {@code maxLength}. */
    private record Window(int sentence, int start, List<String> words) {}

    /**
     * Cuts a sentence into windows of whole words that each fit {@code maxLength} tokens: as many
     * words as keep their first token, then the rest from the first word that lost it.
     */
    private List<Window> windows(WordTokenizer tokenizer, List<String> words, int sentence) {
        List<Window> out = new ArrayList<>();
        int start = 0;
        while (start < words.size()) {
            List<String> rest = words.subList(start, words.size());
            WordTokenizer.WordEncoding encoding = tokenizer.encode(rest);
            boolean[] tagged = new boolean[rest.size()];
            for (int j = 0; j < encoding.length(); j++) {
                if (encoding.startsWord(j)) {
                    tagged[(int) encoding.wordIds()[j]] = true;
                }
            }
            int kept = 0;
            while (kept < rest.size() && tagged[kept]) {
                kept++;
            }
            boolean truncated = encoding.length() >= tokenizer.maxLength();
            for (int k = kept + 1; k < rest.size(); k++) {
                truncated &= !tagged[k];
            }
            if (kept < rest.size() && (kept == 0 || !truncated)) {
                throw new IllegalArgumentException("word " + (start + kept) + " of sequence example " + sentence + ", "
                        + Excerpt.quote(rest.get(kept)) + ", gives the tokenizer no token, so it cannot be tagged");
            }
            out.add(new Window(sentence, start, List.copyOf(rest.subList(0, kept))));
            start += kept;
        }
        return out;
    }

    /**
     * The softmax probabilities of the tags on each word's first token, [word][tag] per window:
     * peft-djl's {@link TaggingTask#batch} encodes the windows (their tags are placeholders, its
     * targets mark each word's first token) and the {@link TokenClassifier} gives the logits.
     */
    private List<float[][]> probabilities(Runtime loaded, List<Window> windows) {
        int tagCount = outputIDMap.size();
        String placeholder = tags().get(0);
        List<TaggedSentence> rows = new ArrayList<>(windows.size());
        for (Window window : windows) {
            rows.add(new TaggedSentence(window.words, Collections.nCopies(window.words.size(), placeholder)));
        }
        List<float[][]> out = new ArrayList<>(windows.size());
        try (NDManager scope = loaded.model.getNDManager().newSubManager()) {
            TrainingTask.Batch batch = loaded.task.batch(scope, rows);
            NDList logits = loaded.model.getBlock().forward(new ParameterStore(scope, false), batch.inputs(), false);
            float[] probabilities = logits.singletonOrThrow().softmax(-1).toFloatArray();
            long[] firstTokens = batch.targets().singletonOrThrow().toLongArray();
            int length = firstTokens.length / windows.size();
            for (int w = 0; w < windows.size(); w++) {
                float[][] words = new float[windows.get(w).words.size()][];
                int word = 0;
                for (int j = 0; j < length; j++) {
                    if (firstTokens[w * length + j] != TokenCrossEntropyLoss.IGNORE) {
                        int at = (w * length + j) * tagCount;
                        words[word++] = Arrays.copyOfRange(probabilities, at, at + tagCount);
                    }
                }
                if (word != words.length) {
                    throw new IllegalStateException("window of " + words.length + " words got " + word
                            + " first tokens from the tokenizer");
                }
                out.add(words);
            }
        }
        return out;
    }

    private Prediction<Label> prediction(float[] probabilities, Example<Label> word) {
        Map<String, Label> scores = new LinkedHashMap<>();
        Label best = null;
        for (int id = 0; id < probabilities.length; id++) {
            Label scored = new Label(outputIDMap.getOutput(id).getLabel(), probabilities[id]);
            scores.put(scored.getLabel(), scored);
            if (best == null || scored.getScore() > best.getScore()) {
                best = scored;
            }
        }
        return new Prediction<>(best, scores, word.size(), word, true);
    }

    /** Empty: a transformer has no per-feature weights. */
    @Override
    public Map<String, List<Pair<String, Double>>> getTopFeatures(int n) {
        return Map.of();
    }

    /** Frees the loaded encoder's native memory; the next prediction loads it again. */
    @Override
    public synchronized void close() {
        if (runtime != null) {
            runtime.close();
            runtime = null;
        }
    }

    /** Serializes the metadata, where the encoder comes from, and the adapter's two files. */
    @Override
    public SequenceModelProto serialize() {
        Map<String, ByteString> fields = new LinkedHashMap<>();
        fields.put("metadata", createDataCarrier().serialize().toByteString());
        fields.put("encoder_kind", ByteString.copyFromUtf8(encoder.kind().name()));
        fields.put("encoder_location", ByteString.copyFromUtf8(encoder.location()));
        fields.put("encoder_tokenizer", ByteString.copyFromUtf8(encoder.tokenizer()));
        fields.put("max_length", ByteString.copyFrom(ByteBuffer.allocate(4).putInt(0, maxLength)));
        fields.put("word_prefix", ByteString.copyFromUtf8(wordPrefix));
        fields.put("adapter_config", ByteString.copyFromUtf8(adapterConfig));
        fields.put("adapter_weights", ByteString.copyFrom(adapterWeights));
        ByteBuffer losses = ByteBuffer.allocate(4 * epochLosses.length);
        losses.asFloatBuffer().put(epochLosses);
        fields.put("epoch_losses", ByteString.copyFrom(losses));
        return SequenceModelProto.newBuilder().setVersion(PROTO_VERSION).setClassName(TaggingPeftModel.class.getName())
                .setSerializedData(PROTO.pack(fields)).build();
    }

    /**
     * Reads a model written by {@link #serialize}; Tribuo's {@code SequenceModel.deserialize} calls
     * this. Every class name in the metadata is checked against {@link ModelReader}'s allow-list
     * before Tribuo loads it.
     *
     * @throws InvalidProtocolBufferException if the message is malformed, its outputs are not labels, or its
     *     settings are out of range
     */
    @SuppressWarnings("unchecked")
    public static TaggingPeftModel deserializeFromProto(int version, String className, Any message)
            throws InvalidProtocolBufferException {
        BytesMessage.checkVersion(version, PROTO_VERSION, className);
        Map<String, ByteString> fields = PROTO.unpack(message);
        ModelReader.checkClassNames(message, className);
        ModelDataCarrier<?> carrier = ModelDataCarrier.deserialize(ModelDataProto.parseFrom(fields.get("metadata")));
        for (Object tag : carrier.outputDomain().getDomain()) {
            if (!(tag instanceof Label)) {
                throw new InvalidProtocolBufferException(className + ": the outputs must be labels (tags), found a "
                        + tag.getClass().getName());
            }
        }
        PretrainedEncoder encoder = new PretrainedEncoder(
                PretrainedEncoder.Kind.valueOf(fields.get("encoder_kind").toStringUtf8()),
                fields.get("encoder_location").toStringUtf8(), fields.get("encoder_tokenizer").toStringUtf8());
        AdapterCheckpoint adapter = AdapterCheckpoint.parse(fields.get("adapter_config").toStringUtf8(),
                fields.get("adapter_weights").toByteArray(), className);
        int maxLength = fields.get("max_length").asReadOnlyByteBuffer().getInt();
        String wordPrefix = fields.get("word_prefix").toStringUtf8();
        if (maxLength < 3 || wordPrefix.isEmpty()) {
            throw new InvalidProtocolBufferException(className + ": max_length must be at least 3 and word_prefix not"
                    + " empty, got " + maxLength + " and \"" + wordPrefix + "\"");
        }
        float[] losses = new float[fields.get("epoch_losses").size() / 4];
        fields.get("epoch_losses").asReadOnlyByteBuffer().asFloatBuffer().get(losses);
        return new TaggingPeftModel(carrier.name(), carrier.provenance(), carrier.featureDomain(),
                (ImmutableOutputInfo<Label>) carrier.outputDomain(), encoder, maxLength, wordPrefix, adapter, losses);
    }
}
