package org.peft4j.tribuo.text;

import ai.djl.Model;
import ai.djl.engine.Engine;
import com.oracle.labs.mlrg.olcut.config.Config;
import com.oracle.labs.mlrg.olcut.config.PropertyException;
import com.oracle.labs.mlrg.olcut.provenance.Provenance;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.checkpoint.AdapterConfigJson;
import org.peft4j.api.data.LabeledText;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;
import org.peft4j.djl.train.TextTraining;
import org.peft4j.tribuo.internal.CountingTrainer;
import org.tribuo.Dataset;
import org.tribuo.Example;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Output;
import org.tribuo.Trainer;
import org.tribuo.classification.Label;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.provenance.TrainerProvenance;
import org.tribuo.regression.Regressor;

/**
 * A Tribuo {@link Trainer} of text models that fine-tunes a pretrained transformer encoder
 * (peft-djl's BERT family, such as all-MiniLM-L6-v2) with LoRA, prefix- or prompt-tuning and a new
 * head, and returns a {@link TextPeftModel}, which Tribuo's evaluators, serializers and provenance
 * tools handle like any other model. {@link #classification} makes a {@code Trainer<Label>} (a
 * softmax head, cross-entropy); {@link #regression} a {@code Trainer<Regressor>} for one regression
 * dimension (one output, mean squared error, as Hugging Face's {@code num_labels=1}).
 *
 * <p>The route for the text: each {@link Example} carries its raw text as a metadata value
 * (default key {@value #DEFAULT_TEXT_FIELD}). With Tribuo's columnar loaders, add
 * {@code new IdentityExtractor("text", "text")} as a metadata extractor of the RowProcessor; the
 * examples' features (for instance a bag of words from a TextFieldProcessor) are kept in the
 * model's feature map but not used by the transformer. An example without the text is refused with
 * its index and the metadata keys it has.
 *
 * <p>As Hugging Face PEFT does for sequence classification, the head ({@code classifier}) is added
 * to {@code modules_to_save}, so it trains and is saved with the adapter.
 *
 * <p>The settings are {@code @Config} fields, so they appear in the model's provenance, an OLCUT
 * configuration file can build the trainer, and the provenance converts back into a configuration
 * that rebuilds it. The adapter's settings are one field, {@code adapterConfig}: the text of an
 * {@code adapter_config.json} as Hugging Face PEFT writes it (any method peft4j knows), the one
 * source of truth from which {@link #postConfig} derives the {@link PeftConfig}. The encoder is
 * {@code encoderKind}, {@code encoderLocation} and {@code encoderTokenizer} ({@link PretrainedEncoder}'s
 * parts), and {@code regression} chooses the head:
 * <pre>{@code
 * <component name="tuner" type="org.peft4j.tribuo.text.TextPeftTrainer">
 *   <property name="encoderKind" value="CLASSPATH"/>
 *   <property name="encoderLocation" value="/all-minilm-l6-v2.onnx"/>
 *   <property name="encoderTokenizer" value="/all-minilm-l6-v2-tokenizer.json"/>
 *   <property name="adapterConfig" value='{"peft_type": "LORA", "r": 8, "lora_alpha": 16,
 *       "target_modules": ["query", "value"], "task_type": "SEQ_CLS"}'/>
 *   <property name="epochs" value="1"/>
 * </component>
 * }</pre>
 *
 * @param <T> the output type: {@link Label} or {@link Regressor}
 */
public final class TextPeftTrainer<T extends Output<T>> extends CountingTrainer<T> {
    /** The metadata key that holds an example's text unless another is set. */
    public static final String DEFAULT_TEXT_FIELD = "text";
    /** The module path of the classification head. */
    public static final String HEAD = "classifier";

    @Config(mandatory = true, description = "How the encoder's files are found: HUGGING_FACE, ONNX or CLASSPATH.")
    private PretrainedEncoder.Kind encoderKind;
    @Config(mandatory = true, description = "The encoder: a model directory, an ONNX file or an ONNX resource.")
    private String encoderLocation;
    @Config(mandatory = true, description = "The encoder's tokenizer.json: a file or a resource.")
    private String encoderTokenizer;
    @Config(mandatory = true, description = "The adapter's settings: the text of an adapter_config.json (LoRA, prefix"
            + " or prompt); \"classifier\" is added to modules_to_save.")
    private String adapterConfig;
    @Config(description = "The metadata key of the text.")
    private String textField = DEFAULT_TEXT_FIELD;
    @Config(description = "The longest token sequence; longer texts are truncated.")
    private int maxLength = 128;
    @Config(description = "Passes over the training data.")
    private int epochs = 2;
    @Config(description = "Examples per update.")
    private int batchSize = 16;
    @Config(description = "AdamW's peak learning rate.")
    private float learningRate = 2e-3f;
    @Config(description = "The share of updates spent warming the learning rate up.")
    private float warmupRatio = 0.1f;
    @Config(description = "The schedule after the warm-up: constant, linear or cosine.")
    private LearningRateSchedule.Kind scheduler = LearningRateSchedule.Kind.LINEAR;
    @Config(description = "The seed of the head's initial weights and of the shuffling.")
    private long seed = Trainer.DEFAULT_SEED;
    @Config(description = "Whether the head regresses one value (a Trainer<Regressor>) instead of classifying.")
    private boolean regression;

    /** Derived from the encoder fields by {@link #postConfig}. */
    private PretrainedEncoder source;
    /** Derived from {@link #adapterConfig} by {@link #postConfig}. */
    private PeftConfig config;

    /**
     * A trainer of text classifiers with {@code config}'s method on the encoder from {@code source}.
     *
     * @param source the pretrained encoder and its tokenizer
     * @param config the PEFT method's settings; {@code classifier} is added to modules_to_save
     */
    public static TextPeftTrainer<Label> classification(PretrainedEncoder source, PeftConfig config) {
        return new TextPeftTrainer<>(source, config, false);
    }

    /**
     * A trainer of text regressors (one regression dimension) with {@code config}'s method on the
     * encoder from {@code source}.
     *
     * @param source the pretrained encoder and its tokenizer
     * @param config the PEFT method's settings; {@code classifier} (the head) is added to modules_to_save
     */
    public static TextPeftTrainer<Regressor> regression(PretrainedEncoder source, PeftConfig config) {
        return new TextPeftTrainer<>(source, config, true);
    }

    /** For OLCUT's configuration system. */
    private TextPeftTrainer() {}

    private TextPeftTrainer(PretrainedEncoder source, PeftConfig config, boolean regression) {
        Objects.requireNonNull(source, "source");
        this.regression = regression;
        this.encoderKind = source.kind();
        this.encoderLocation = source.location();
        this.encoderTokenizer = source.tokenizer();
        this.adapterConfig = AdapterConfigJson.toJson(Objects.requireNonNull(config, "config"));
        postConfig();
    }

    /**
     * Checks the settings and derives the encoder and the adapter's config (with the head in
     * {@code modules_to_save}). Called by OLCUT after configuring, and by the factories.
     *
     * @throws PropertyException naming the field if a setting is invalid
     */
    @Override
    public synchronized void postConfig() {
        try {
            this.source = new PretrainedEncoder(encoderKind, encoderLocation, encoderTokenizer);
        } catch (NullPointerException e) {
            throw new PropertyException(e, "", "encoder" + capitalized(e.getMessage()), "TextPeftTrainer: the encoder's "
                    + e.getMessage() + " must be set");
        }
        PeftConfig parsed;
        try {
            parsed = AdapterConfigJson.parse(adapterConfig, "adapterConfig of TextPeftTrainer");
        } catch (RuntimeException e) {
            throw new PropertyException(e, "", "adapterConfig", e.getMessage());
        }
        List<String> modules = new ArrayList<>(parsed.modulesToSave());
        if (!modules.contains(HEAD)) {
            modules.add(HEAD);
        }
        this.config = parsed.withModulesToSave(modules);
        this.adapterConfig = AdapterConfigJson.toJson(this.config);
        try {
            textField(textField);
            maxLength(maxLength);
            schedule(epochs, batchSize, learningRate);
            warmup(warmupRatio, scheduler);
        } catch (IllegalArgumentException | NullPointerException e) {
            throw new PropertyException(e, "", "textField, maxLength, epochs, batchSize, learningRate, warmupRatio or"
                    + " scheduler",
                    "TextPeftTrainer: " + e.getMessage());
        }
    }

    private static String capitalized(String word) {
        return word == null || word.isEmpty() ? "" : Character.toUpperCase(word.charAt(0)) + word.substring(1);
    }

    /** The pretrained encoder, derived from the {@code encoder*} fields. */
    public PretrainedEncoder encoder() {
        return source;
    }

    /** The adapter's settings, derived from {@code adapterConfig}, with the head in {@code modules_to_save}. */
    public PeftConfig config() {
        return config;
    }

    /** Sets the metadata key that holds each example's text; returns this trainer. */
    public TextPeftTrainer<T> textField(String key) {
        this.textField = Objects.requireNonNull(key, "key");
        return this;
    }

    /** Sets the longest token sequence (default 128); returns this trainer. */
    public TextPeftTrainer<T> maxLength(int tokens) {
        if (tokens < 2) {
            throw new IllegalArgumentException("maxLength must be at least 2, got " + tokens);
        }
        this.maxLength = tokens;
        return this;
    }

    /**
     * Sets the optimisation: passes, batch size and AdamW's peak learning rate (defaults 2, 16 and
     * 2e-3, for LoRA; prompt-tuning wants about 1e-2, prefix-tuning 5e-4). Returns this trainer.
     */
    public TextPeftTrainer<T> schedule(int epochs, int batchSize, float learningRate) {
        // validated as FineTuning.Settings would, before any training
        FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize).setLearningRate(learningRate)
                .optWarmupRatio(warmupRatio).optScheduler(scheduler).build();
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.learningRate = learningRate;
        return this;
    }

    /** Sets the warm-up share and the schedule after it (defaults 0.1, linear); returns this trainer. */
    public TextPeftTrainer<T> warmup(float warmupRatio, LearningRateSchedule.Kind scheduler) {
        FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize).setLearningRate(learningRate)
                .optWarmupRatio(warmupRatio).optScheduler(scheduler).build();
        this.warmupRatio = warmupRatio;
        this.scheduler = scheduler;
        return this;
    }

    /** Sets the seed; returns this trainer. */
    public TextPeftTrainer<T> seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Fine-tunes on {@code data} (see {@link #train(Dataset, Map)}). */
    @Override
    public TextPeftModel<T> train(Dataset<T> data) {
        return train(data, Map.of());
    }

    /**
     * Fine-tunes on {@code data}. For classification the class of each output id is the head's
     * output at that index.
     *
     * @throws IllegalArgumentException if an example lacks its text, or a regression dataset has
     *     more than one dimension
     */
    @Override
    public synchronized TextPeftModel<T> train(Dataset<T> data, Map<String, Provenance> runProvenance) {
        ImmutableOutputInfo<T> outputs = data.getOutputIDInfo();
        List<String> names = TextPeftModel.dimensionNames(outputs, regression);
        if (regression && names.size() != 1) {
            throw new IllegalArgumentException("a text regressor predicts one dimension; the data has " + names);
        }
        List<LabeledText> rows = new ArrayList<>();
        int index = 0;
        for (Example<T> example : data) {
            String target = regression ? Double.toString(((Regressor) example.getOutput()).getValues()[0])
                    : ((Label) example.getOutput()).getLabel();
            rows.add(new LabeledText(TextPeftModel.text(example, textField, index++), target, ""));
        }
        TrainerProvenance trainerProvenance = getProvenance();
        long runSeed = seed + nextInvocation();
        AdapterCheckpoint adapter;
        Engine.getInstance().setRandomSeed((int) runSeed);
        try (Model model = Model.newInstance("peft4j-tribuo-text");
                BertTokenizer tokenizer = source.tokenizer(maxLength)) {
            TextClassifier classifier = EncoderFamilies.sequenceClassifier(source.loadEncoder(model.getNDManager()),
                    regression ? 1 : names.size(), TextClassifier.HUGGING_FACE_HEAD, model.getNDManager());
            model.setBlock(classifier);
            PeftModel peft = Peft.apply(classifier, config, PeftModel.DEFAULT_ADAPTER, tokenizer);
            TextTraining training = regression ? TextTraining.regression(model, peft, tokenizer)
                    : new TextTraining(model, peft, tokenizer, names);
            training.fit(rows, List.of(),
                    FineTuning.Settings.builder().setEpochs(epochs).setBatchSize(batchSize)
                            .setLearningRate(learningRate).optWarmupRatio(warmupRatio).optScheduler(scheduler)
                            .optSeed(runSeed).build(), epoch -> { });
            adapter = peft.checkpoint();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelProvenance provenance = new ModelProvenance(TextPeftModel.class.getName(), OffsetDateTime.now(),
                data.getProvenance(), trainerProvenance, runProvenance);
        String name = config.peftType().name().toLowerCase(Locale.ROOT) + "(" + source + ")";
        return new TextPeftModel<>(name, provenance, data.getFeatureIDMap(), outputs, regression, source, maxLength,
                textField, adapter);
    }

    @Override
    public String toString() {
        return "TextPeftTrainer(" + config.peftType() + " on " + source + ", epochs=" + epochs + ", batch=" + batchSize
                + ", lr=" + learningRate + ")";
    }
}
