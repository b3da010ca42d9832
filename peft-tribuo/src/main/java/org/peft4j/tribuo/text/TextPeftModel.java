package org.peft4j.tribuo.text;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.Peft;
import org.peft4j.djl.models.EncoderFamilies;
import org.peft4j.djl.models.TextClassifier;
import org.peft4j.djl.models.bert.BertTokenizer;
import org.peft4j.djl.models.bert.PretrainedEncoder;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.internal.BytesMessage;
import org.tribuo.Example;
import org.tribuo.Excuse;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Output;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.impl.ModelDataCarrier;
import org.tribuo.protos.core.ModelDataProto;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.provenance.ModelProvenance;
import org.tribuo.regression.Regressor;

/**
 * A Tribuo model made of a pretrained transformer encoder and a PEFT adapter (LoRA, prefix or
 * prompt, with its head), as {@link TextPeftTrainer} trains it. It reads each example's text from a
 * metadata value, runs the encoder with the adapter through DJL, and predicts the label with the
 * softmax probabilities of all labels, or for regression the value of the one dimension.
 *
 * <p>It keeps where the encoder comes from ({@link PretrainedEncoder}) and the adapter's two files,
 * never the encoder's weights: Java and protobuf serialization store those, and the encoder is
 * loaded again on the first prediction after a load, so the encoder must be where it was (or on the
 * classpath, for a classpath encoder). The adapter is saved alone in Hugging Face PEFT's layout with
 * {@link #saveAdapter}. A transformer has no per-feature weights, so {@link #getTopFeatures} is empty
 * and {@link #getExcuse} is absent, as for Tribuo's other neural models. {@link #close} frees the
 * native memory of the loaded encoder.
 *
 * @param <T> the output type: {@link Label} or {@link Regressor}
 */
public final class TextPeftModel<T extends Output<T>> extends org.tribuo.Model<T> implements AutoCloseable {
    private static final long serialVersionUID = 1L;
    private static final int PROTO_VERSION = 0;
    private static final int BATCH = 32;
    private static final BytesMessage PROTO = new BytesMessage("TextPeftModelProto", List.of("metadata", "regression",
            "encoder_kind", "encoder_location", "encoder_tokenizer", "max_length", "text_field", "adapter_config",
            "adapter_weights"), Map.of("metadata", ModelDataProto.getDescriptor()));

    private final boolean regression;
    private final PretrainedEncoder encoder;
    private final int maxLength;
    private final String textField;
    private final String adapterConfig;
    private final byte[] adapterWeights;
    private transient Runtime runtime;

    /** The encoder with its adapter, loaded into DJL. */
    private static final class Runtime implements AutoCloseable {
        final Model model;
        final BertTokenizer tokenizer;

        Runtime(Model model, BertTokenizer tokenizer) {
            this.model = model;
            this.tokenizer = tokenizer;
        }

        @Override
        public void close() {
            tokenizer.close();
            model.close();
        }
    }

    TextPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features, ImmutableOutputInfo<T> outputs,
            boolean regression, PretrainedEncoder encoder, int maxLength, String textField, AdapterCheckpoint adapter) {
        this(name, provenance, features, outputs, regression, encoder, maxLength, textField, adapter.configJson(),
                adapter.weightBytes());
    }

    private TextPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features,
            ImmutableOutputInfo<T> outputs, boolean regression, PretrainedEncoder encoder, int maxLength,
            String textField, String adapterConfig, byte[] adapterWeights) {
        super(name, provenance, features, outputs, !regression);
        this.regression = regression;
        this.encoder = encoder;
        this.maxLength = maxLength;
        this.textField = textField;
        this.adapterConfig = adapterConfig;
        this.adapterWeights = adapterWeights;
    }

    /** Where the encoder comes from. */
    public PretrainedEncoder encoder() {
        return encoder;
    }

    /** The metadata key of the text. */
    public String textField() {
        return textField;
    }

    /** The adapter as Hugging Face PEFT lays it out. */
    public AdapterCheckpoint adapter() {
        return AdapterCheckpoint.parse(adapterConfig, adapterWeights, getName());
    }

    /** Saves the adapter (with its head) in Hugging Face PEFT's layout; each file is replaced atomically. */
    public void saveAdapter(Path directory) throws IOException {
        adapter().save(directory);
    }

    /** The names of the output dimensions in id order: labels, or regression dimension names. */
    static <T extends Output<T>> List<String> dimensionNames(ImmutableOutputInfo<T> outputs, boolean regression) {
        List<String> names = new ArrayList<>();
        if (regression) {
            for (int id = 0; id < outputs.size(); id++) {
                names.add(((Regressor) outputs.getOutput(id)).getNames()[0]);
            }
            return names;
        }
        for (int id = 0; id < outputs.size(); id++) {
            names.add(((Label) outputs.getOutput(id)).getLabel());
        }
        return names;
    }

    static String text(Example<?> example, String field, int index) {
        Optional<Object> value = example.getMetadataValue(field);
        if (value.isEmpty() || !(value.get() instanceof String)) {
            throw new IllegalArgumentException("example " + index + " has no text in its metadata value \"" + field
                    + "\"; its metadata keys are " + example.getMetadata().keySet()
                    + " (add the text with an IdentityExtractor, or choose the key with textField)");
        }
        return (String) value.get();
    }

    private synchronized Runtime runtime() {
        if (runtime == null) {
            Model model = Model.newInstance("peft4j-tribuo-text");
            try {
                TextClassifier classifier = EncoderFamilies.sequenceClassifier(encoder.loadEncoder(model.getNDManager()),
                        regression ? 1 : outputIDInfo.size(), TextClassifier.HUGGING_FACE_HEAD, model.getNDManager());
                model.setBlock(classifier);
                Peft.load(classifier, adapter(), getName());
                runtime = new Runtime(model, encoder.tokenizer(maxLength));
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

    @Override
    public Prediction<T> predict(Example<T> example) {
        return innerPredict(List.of(example)).get(0);
    }

    /** Predicts in batches of {@value #BATCH} texts. */
    @Override
    protected synchronized List<Prediction<T>> innerPredict(Iterable<Example<T>> examples) {
        Runtime loaded = runtime();
        List<Prediction<T>> out = new ArrayList<>();
        Iterator<Example<T>> it = examples.iterator();
        List<Example<T>> batch = new ArrayList<>(BATCH);
        List<String> names = dimensionNames(outputIDInfo, regression);
        while (it.hasNext() || !batch.isEmpty()) {
            if (it.hasNext() && batch.size() < BATCH) {
                batch.add(it.next());
                continue;
            }
            List<String> texts = new ArrayList<>(batch.size());
            for (Example<T> example : batch) {
                texts.add(text(example, textField, out.size() + texts.size()));
            }
            float[] values;
            try (NDManager scope = loaded.model.getNDManager().newSubManager()) {
                NDArray outputs = loaded.model.getBlock().forward(new ParameterStore(scope, false),
                        loaded.tokenizer.encode(scope, texts), false).singletonOrThrow();
                values = regression ? outputs.toFloatArray() : outputs.softmax(1).toFloatArray();
            }
            for (int i = 0; i < batch.size(); i++) {
                out.add(regression ? regression(names.get(0), values[i], batch.get(i))
                        : classification(names, values, i, batch.get(i)));
            }
            batch.clear();
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private Prediction<T> regression(String dimension, float value, Example<T> example) {
        return new Prediction<>((T) new Regressor(dimension, value), example.size(), example);
    }

    @SuppressWarnings("unchecked")
    private Prediction<T> classification(List<String> labels, float[] probabilities, int row, Example<T> example) {
        Map<String, T> scores = new LinkedHashMap<>();
        Label best = null;
        for (int id = 0; id < labels.size(); id++) {
            Label scored = new Label(labels.get(id), probabilities[row * labels.size() + id]);
            scores.put(labels.get(id), (T) scored);
            if (best == null || scored.getScore() > best.getScore()) {
                best = scored;
            }
        }
        return new Prediction<>((T) best, scores, example.size(), example, true);
    }

    /** Empty: a transformer has no per-feature weights. */
    @Override
    public Map<String, List<Pair<String, Double>>> getTopFeatures(int n) {
        return Map.of();
    }

    /** Absent: a transformer's prediction is not a sum of per-feature contributions. */
    @Override
    public Optional<Excuse<T>> getExcuse(Example<T> example) {
        return Optional.empty();
    }

    @Override
    protected TextPeftModel<T> copy(String newName, ModelProvenance newProvenance) {
        return new TextPeftModel<>(newName, newProvenance, featureIDMap, outputIDInfo, regression, encoder, maxLength,
                textField, adapterConfig, adapterWeights.clone());
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
    public ModelProto serialize() {
        Map<String, ByteString> fields = new LinkedHashMap<>();
        fields.put("metadata", createDataCarrier().serialize().toByteString());
        fields.put("regression", ByteString.copyFromUtf8(Boolean.toString(regression)));
        fields.put("encoder_kind", ByteString.copyFromUtf8(encoder.kind().name()));
        fields.put("encoder_location", ByteString.copyFromUtf8(encoder.location()));
        fields.put("encoder_tokenizer", ByteString.copyFromUtf8(encoder.tokenizer()));
        fields.put("max_length", ByteString.copyFrom(ByteBuffer.allocate(4).putInt(0, maxLength)));
        fields.put("text_field", ByteString.copyFromUtf8(textField));
        fields.put("adapter_config", ByteString.copyFromUtf8(adapterConfig));
        fields.put("adapter_weights", ByteString.copyFrom(adapterWeights));
        return ModelProto.newBuilder().setVersion(PROTO_VERSION).setClassName(TextPeftModel.class.getName())
                .setSerializedData(PROTO.pack(fields)).build();
    }

    /**
     * Reads a model written by {@link #serialize}; Tribuo's {@code Model.deserialize} calls this.
     *
     * @throws InvalidProtocolBufferException if the message is malformed
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static TextPeftModel<?> deserializeFromProto(int version, String className, Any message)
            throws InvalidProtocolBufferException {
        BytesMessage.checkVersion(version, PROTO_VERSION, className);
        Map<String, ByteString> fields = PROTO.unpack(message);
        ModelReader.checkClassNames(message, className);
        ModelDataCarrier<?> carrier = ModelDataCarrier.deserialize(ModelDataProto.parseFrom(fields.get("metadata")));
        PretrainedEncoder encoder = new PretrainedEncoder(
                PretrainedEncoder.Kind.valueOf(fields.get("encoder_kind").toStringUtf8()),
                fields.get("encoder_location").toStringUtf8(), fields.get("encoder_tokenizer").toStringUtf8());
        AdapterCheckpoint adapter = AdapterCheckpoint.parse(fields.get("adapter_config").toStringUtf8(),
                fields.get("adapter_weights").toByteArray(), className);
        return new TextPeftModel(carrier.name(), carrier.provenance(), carrier.featureDomain(),
                (ImmutableOutputInfo) carrier.outputDomain(), Boolean.parseBoolean(fields.get("regression").toStringUtf8()),
                encoder,
                fields.get("max_length").asReadOnlyByteBuffer().getInt(), fields.get("text_field").toStringUtf8(),
                adapter);
    }
}
