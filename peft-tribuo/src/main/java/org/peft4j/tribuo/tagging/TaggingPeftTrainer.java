package org.peft4j.tribuo.tagging;

import ai.djl.Model;
import ai.djl.engine.Engine;
import com.oracle.labs.mlrg.olcut.config.Config;
import com.oracle.labs.mlrg.olcut.config.PropertyException;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.TaskType;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.checkpoint.AdapterConfigJson;
import org.peft4j.api.data.TaggedSentence;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.tasks.tagging.TaggingTask;
import org.peft4j.djl.tasks.tagging.TokenClassifier;
import org.peft4j.djl.tasks.tagging.WordTokenizer;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;
import org.tribuo.Example;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Trainer;
import org.tribuo.classification.Label;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.provenance.TrainerProvenance;
import org.tribuo.provenance.impl.TrainerProvenanceImpl;
import org.tribuo.sequence.SequenceDataset;
import org.tribuo.sequence.SequenceExample;
import org.tribuo.sequence.SequenceTrainer;

/**
 * A Tribuo {@link SequenceTrainer} of taggers ({@code TOKEN_CLS}, such as named-entity
 * recognition) that fine-tunes a pretrained transformer encoder with LoRA, IA3, prefix- or
 * prompt-tuning and a new token-classification head, and returns a {@link TaggingPeftModel}, which
 * Tribuo's {@code LabelSequenceEvaluator}, Java serialization and provenance tools handle like any
 * other sequence model. It is {@link org.peft4j.tribuo.text.TextPeftTrainer} for sequences.
 *
 * <p>Data: one {@link SequenceExample} per sentence, one example per word, whose output is the
 * word's tag and whose feature {@code W=word} carries the word ({@link TaggedSequences}, Tribuo's
 * own convention; the prefix is {@code wordPrefix}). The model is peft-djl's {@link TokenClassifier}
 * (Hugging Face's {@code *ForTokenClassification}: a linear {@code classifier} on each token of the
 * encoder's last hidden state), trained by peft-djl's {@link TaggingTask}: each word is tokenized on
 * its own, its first sub-token learns the word's tag and its other sub-tokens are ignored, as
 * transformers' {@code run_ner.py} aligns them; words beyond {@code maxLength} tokens are not
 * learned, as in Python. A tag's class is its Tribuo output id. Examples' weights are not used.
 *
 * <p>As Hugging Face PEFT does for token classification, the head ({@code classifier}) is added to
 * {@code modules_to_save} and the adapter's {@code task_type} is {@code TOKEN_CLS}, so the saved
 * adapter loads in Python's {@code PeftModelForTokenClassification}.
 *
 * <p>The settings are {@code @Config} fields, so they appear in the model's provenance, an OLCUT
 * configuration file can build the trainer, and the provenance converts back into a configuration
 * that rebuilds it. As for the text trainer, the adapter's settings are the text of an
 * {@code adapter_config.json} ({@code adapterConfig}) and the encoder is {@code encoderKind},
 * {@code encoderLocation} and {@code encoderTokenizer}:
 * <pre>{@code
 * <component name="tagger" type="org.peft4j.tribuo.tagging.TaggingPeftTrainer">
 *   <property name="encoderKind" value="CLASSPATH"/>
 *   <property name="encoderLocation" value="/all-minilm-l6-v2.onnx"/>
 *   <property name="encoderTokenizer" value="/all-minilm-l6-v2-tokenizer.json"/>
 *   <property name="adapterConfig" value='{"peft_type": "LORA", "r": 8, "lora_alpha": 16,
 *       "target_modules": ["query", "value"]}'/>
 *   <property name="epochs" value="3"/>
 * </component>
 * }</pre>
 */
public final class TaggingPeftTrainer implements SequenceTrainer<Label> {
    /** The module path of the token-classification head. */
    public static final String HEAD = "classifier";

    @Config(mandatory = true, description = "How the encoder's files are found: HUGGING_FACE, ONNX or CLASSPATH.")
    private PretrainedEncoder.Kind encoderKind;
    @Config(mandatory = true, description = "The encoder: a model directory, an ONNX file or an ONNX resource.")
    private String encoderLocation;
    @Config(mandatory = true, description = "The encoder's tokenizer.json: a file or a resource.")
    private String encoderTokenizer;
    @Config(mandatory = true, description = "The adapter's settings: the text of an adapter_config.json (LoRA, IA3,"
            + " prefix or prompt); \"classifier\" is added to modules_to_save and task_type is TOKEN_CLS.")
    private String adapterConfig;
    @Config(description = "The prefix of the feature that carries each word: the feature is named prefix + word.")
    private String wordPrefix = TaggedSequences.WORD_PREFIX;
    @Config(description = "The longest token sequence, special tokens included; words beyond it are not learned.")
    private int maxLength = 128;
    @Config(description = "Passes over the training data.")
    private int epochs = 3;
    @Config(description = "Sentences per update.")
    private int batchSize = 16;
    @Config(description = "AdamW's peak learning rate.")
    private float learningRate = 5e-3f;
    @Config(description = "The share of updates spent warming the learning rate up.")
    private float warmupRatio = 0.1f;
    @Config(description = "The schedule after the warm-up: constant, linear or cosine.")
    private LearningRateSchedule.Kind scheduler = LearningRateSchedule.Kind.LINEAR;
    @Config(description = "The seed of the head's initial weights and of the shuffling.")
    private long seed = Trainer.DEFAULT_SEED;

    /** Derived from the encoder fields by {@link #postConfig}. */
    private PretrainedEncoder source;
    /** Derived from {@link #adapterConfig} by {@link #postConfig}. */
    private PeftConfig config;
    private int invocationCount;

    /**
     * A trainer of taggers with {@code config}'s method on the encoder from {@code source}.
     *
     * @param source the pretrained encoder and its tokenizer
     * @param config the PEFT method's settings; {@code classifier} is added to {@code modules_to_save}
     * @throws IllegalArgumentException if {@code config} is for another task than {@code TOKEN_CLS}
     */
    public TaggingPeftTrainer(PretrainedEncoder source, PeftConfig config) {
        Objects.requireNonNull(source, "source");
        this.encoderKind = source.kind();
        this.encoderLocation = source.location();
        this.encoderTokenizer = source.tokenizer();
        this.adapterConfig = AdapterConfigJson.toJson(Objects.requireNonNull(config, "config"));
        try {
            postConfig();
        } catch (PropertyException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        }
    }

    /** For OLCUT's configuration system. */
    private TaggingPeftTrainer() {}

    /**
     * Checks the settings and derives the encoder and the adapter's config (task {@code TOKEN_CLS},
     * the head in {@code modules_to_save}). Called by OLCUT after configuring, and by the constructor.
     *
     * @throws PropertyException naming the field if a setting is invalid
     */
    @Override
    public synchronized void postConfig() {
        try {
            this.source = new PretrainedEncoder(encoderKind, encoderLocation, encoderTokenizer);
        } catch (NullPointerException e) {
            throw new PropertyException(e, "", "encoder", "TaggingPeftTrainer: the encoder's " + e.getMessage()
                    + " must be set");
        }
        PeftConfig parsed;
        try {
            parsed = AdapterConfigJson.parse(adapterConfig, "adapterConfig of TaggingPeftTrainer");
        } catch (RuntimeException e) {
            throw new PropertyException(e, "", "adapterConfig", e.getMessage());
        }
        if (parsed.taskType() != null && parsed.taskType() != TaskType.TOKEN_CLS) {
            throw new PropertyException("", "adapterConfig", "TaggingPeftTrainer: adapterConfig has task_type "
                    + parsed.taskType() + ", but a tagger trains TOKEN_CLS adapters (leave task_type out or set"
                    + " TOKEN_CLS)");
        }
        List<String> modules = new ArrayList<>(parsed.modulesToSave());
        if (!modules.contains(HEAD)) {
            modules.add(HEAD);
        }
        this.config = parsed.withTaskType(TaskType.TOKEN_CLS).withModulesToSave(modules);
        this.adapterConfig = AdapterConfigJson.toJson(this.config);
        try {
            wordPrefix(wordPrefix);
            maxLength(maxLength);
            schedule(epochs, batchSize, learningRate);
            warmup(warmupRatio, scheduler);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new PropertyException(e, "", "wordPrefix, maxLength, epochs, batchSize, learningRate, warmupRatio"
                    + " or scheduler", "TaggingPeftTrainer: " + e.getMessage());
        }
    }

    /** The pretrained encoder, derived from the {@code encoder*} fields. */
    public PretrainedEncoder encoder() {
        return source;
    }

    /** The adapter's settings, derived from {@code adapterConfig}: {@code TOKEN_CLS}, the head in {@code modules_to_save}. */
    public PeftConfig config() {
        return config;
    }

    /**
     * Sets the prefix of the feature that carries each word (default {@value TaggedSequences#WORD_PREFIX});
     * returns this trainer.
     */
    public TaggingPeftTrainer wordPrefix(String prefix) {
        if (Objects.requireNonNull(prefix, "prefix").isEmpty()) {
            throw new IllegalArgumentException("wordPrefix must not be empty: it tells the word feature from the others");
        }
        this.wordPrefix = prefix;
        return this;
    }

    /** Sets the longest token sequence, special tokens included (default 128); returns this trainer. */
    public TaggingPeftTrainer maxLength(int tokens) {
        if (tokens < 3) {
            throw new IllegalArgumentException("maxLength must leave room for two special tokens and a word, got "
                    + tokens);
        }
        this.maxLength = tokens;
        return this;
    }

    /**
     * Sets the optimisation: passes, sentences per update and AdamW's peak learning rate (defaults
     * 3, 16 and 5e-3: the head starts from scratch on every token). Returns this trainer.
     */
    public TaggingPeftTrainer schedule(int epochs, int batchSize, float learningRate) {
        // validated as FineTuning.Settings would, before any training
        FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize).setLearningRate(learningRate)
                .optWarmupRatio(warmupRatio).optScheduler(scheduler).build();
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.learningRate = learningRate;
        return this;
    }

    /** Sets the warm-up share and the schedule after it (defaults 0.1, linear); returns this trainer. */
    public TaggingPeftTrainer warmup(float warmupRatio, LearningRateSchedule.Kind scheduler) {
        FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize).setLearningRate(learningRate)
                .optWarmupRatio(warmupRatio).optScheduler(scheduler).build();
        this.warmupRatio = warmupRatio;
        this.scheduler = scheduler;
        return this;
    }

    /** Sets the seed; returns this trainer. */
    public TaggingPeftTrainer seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Fine-tunes on {@code data} (see {@link #train(SequenceDataset, Map)}). */
    @Override
    public TaggingPeftModel train(SequenceDataset<Label> data) {
        return train(data, Map.of());
    }

    /**
     * Fine-tunes on {@code data}: the tags are the dataset's labels, class i being output id i.
     *
     * @throws IllegalArgumentException naming the sentence and word if a sentence has no words or a
     *     word lacks its {@code wordPrefix} feature
     */
    @Override
    public synchronized TaggingPeftModel train(SequenceDataset<Label> data, Map<String, Provenance> runProvenance) {
        ImmutableOutputInfo<Label> outputs = data.getOutputIDInfo();
        List<String> tags = TaggingPeftModel.tags(outputs);
        List<TaggedSentence> rows = new ArrayList<>(data.size());
        int index = 0;
        for (SequenceExample<Label> sentence : data) {
            List<String> words = TaggedSequences.words(sentence, wordPrefix, index++);
            List<String> wordTags = new ArrayList<>(words.size());
            for (Example<Label> word : sentence) {
                wordTags.add(word.getOutput().getLabel());
            }
            rows.add(new TaggedSentence(words, wordTags));
        }
        TrainerProvenance trainerProvenance = getProvenance();
        long runSeed = seed + invocationCount++;
        AdapterCheckpoint adapter;
        float[] losses;
        Engine.getInstance().setRandomSeed((int) runSeed);
        try (Model model = Model.newInstance("peft4j-tribuo-tagging");
                WordTokenizer words = wordTokenizer(source, maxLength);
                BertTokenizer texts = source.tokenizer(maxLength)) {
            TokenClassifier classifier = new TokenClassifier(source.loadEncoder(model.getNDManager()), tags.size())
                    .initializeHead(model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.apply(classifier, config, PeftModel.DEFAULT_ADAPTER, texts);
            List<FineTuning.EpochReport> reports = new FineTuning<>(model, peft, new TaggingTask(words, tags))
                    .fit(rows, List.of(), FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize)
                            .setLearningRate(learningRate).optWarmupRatio(warmupRatio).optScheduler(scheduler)
                            .optSeed(runSeed).build(), epoch -> { });
            losses = new float[reports.size()];
            for (int i = 0; i < losses.length; i++) {
                losses[i] = reports.get(i).meanLoss();
            }
            adapter = peft.checkpoint();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load the encoder " + source, e);
        }
        ModelProvenance provenance = new ModelProvenance(TaggingPeftModel.class.getName(), OffsetDateTime.now(),
                data.getProvenance(), trainerProvenance, runProvenance);
        String name = config.peftType().name().toLowerCase(Locale.ROOT) + "-tagger(" + source + ")";
        return new TaggingPeftModel(name, provenance, data.getFeatureIDMap(), outputs, source, maxLength, wordPrefix,
                adapter, losses);
    }

    /** Reads the encoder's {@code tokenizer.json} as a tokenizer of words. */
    static WordTokenizer wordTokenizer(PretrainedEncoder source, int maxLength) throws IOException {
        try (InputStream in = source.openTokenizer()) {
            return WordTokenizer.fromTokenizerJson(in, maxLength);
        }
    }

    @Override
    public synchronized int getInvocationCount() {
        return invocationCount;
    }

    /** The trainer's {@code @Config} fields and its invocation count. */
    @Override
    public TrainerProvenance getProvenance() {
        return new TrainerProvenanceImpl(this);
    }

    @Override
    public String toString() {
        return "TaggingPeftTrainer(" + config.peftType() + " on " + source + ", epochs=" + epochs + ", batch="
                + batchSize + ", lr=" + learningRate + ")";
    }
}
