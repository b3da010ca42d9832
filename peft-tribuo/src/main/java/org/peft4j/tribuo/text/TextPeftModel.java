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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.Peft;
import org.peft4j.djl.bert.BertSequenceClassifier;
import org.peft4j.djl.bert.BertTokenizer;
import org.peft4j.djl.bert.Pooling;
import org.peft4j.djl.bert.PretrainedEncoder;
import org.peft4j.tribuo.BytesMessage;
import org.tribuo.Example;
import org.tribuo.Excuse;
import org.tribuo.ImmutableFeatureMap;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Prediction;
import org.tribuo.classification.Label;
import org.tribuo.impl.ModelDataCarrier;
import org.tribuo.protos.core.ModelDataProto;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.provenance.ModelProvenance;

/**
 * A Tribuo classification model made of a pretrained transformer encoder and a PEFT adapter
 * (LoRA, prefix or prompt, with its classification head), as {@link TextPeftTrainer} trains it. It
 * reads each example's text from a metadata value, runs the encoder with the adapter through DJL,
 * and predicts the label with the softmax probabilities of all labels.
 *
 * <p>It keeps where the encoder comes from ({@link PretrainedEncoder}) and the adapter's two files,
 * never the encoder's weights: Java and protobuf serialization store those, and the encoder is
 * loaded again on the first prediction after a load, so the encoder must be where it was (or on the
 * classpath, for a classpath encoder). The adapter is saved alone in Hugging Face PEFT's layout with
 * {@link #saveAdapter}. A transformer has no per-feature weights, so {@link #getTopFeatures} is empty
 * and {@link #getExcuse} is absent, as for Tribuo's other neural models. {@link #close} frees the
 * native memory of the loaded encoder.
 */
public final class TextPeftModel extends org.tribuo.Model<Label> implements AutoCloseable {
    private static final long serialVersionUID = 1L;
    private static final int PROTO_VERSION = 0;
    private static final int BATCH = 32;
    private static final BytesMessage PROTO = new BytesMessage("TextPeftModelProto", "metadata", "encoder_kind",
            "encoder_location", "encoder_tokenizer", "max_length", "text_field", "adapter_config", "adapter_weights");

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

    TextPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features, ImmutableOutputInfo<Label> outputs,
            PretrainedEncoder encoder, int maxLength, String textField, AdapterCheckpoint adapter) {
        this(name, provenance, features, outputs, encoder, maxLength, textField, adapter.configJson(),
                adapter.weightBytes());
    }

    private TextPeftModel(String name, ModelProvenance provenance, ImmutableFeatureMap features,
            ImmutableOutputInfo<Label> outputs, PretrainedEncoder encoder, int maxLength, String textField,
            String adapterConfig, byte[] adapterWeights) {
        super(name, provenance, features, outputs, true);
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

    static String text(Example<Label> example, String field, int index) {
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
                BertSequenceClassifier classifier = new BertSequenceClassifier(encoder.load(model.getNDManager()),
                        outputIDInfo.size(), Pooling.MEAN).initializeHead(model.getNDManager());
                model.setBlock(classifier);
                Path directory = Files.createTempDirectory("peft4j-tribuo-adapter");
                try {
                    adapter().save(directory);
                    Peft.load(classifier, directory);
                } finally {
                    deleteTree(directory);
                }
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

    static void deleteTree(Path directory) throws IOException {
        try (Stream<Path> paths = Files.walk(directory)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Override
    public Prediction<Label> predict(Example<Label> example) {
        return innerPredict(List.of(example)).get(0);
    }

    /** Predicts in batches of {@value #BATCH} texts. */
    @Override
    protected synchronized List<Prediction<Label>> innerPredict(Iterable<Example<Label>> examples) {
        Runtime loaded = runtime();
        List<Prediction<Label>> out = new ArrayList<>();
        Iterator<Example<Label>> it = examples.iterator();
        List<Example<Label>> batch = new ArrayList<>(BATCH);
        while (it.hasNext() || !batch.isEmpty()) {
            if (it.hasNext() && batch.size() < BATCH) {
                batch.add(it.next());
                continue;
            }
            List<String> texts = new ArrayList<>(batch.size());
            for (Example<Label> example : batch) {
                texts.add(text(example, textField, out.size() + texts.size()));
            }
            float[] probabilities;
            try (NDManager scope = loaded.model.getNDManager().newSubManager()) {
                NDArray logits = loaded.model.getBlock().forward(new ParameterStore(scope, false),
                        loaded.tokenizer.encode(scope, texts), false).singletonOrThrow();
                probabilities = logits.softmax(1).toFloatArray();
            }
            int labels = outputIDInfo.size();
            for (int i = 0; i < batch.size(); i++) {
                Map<String, Label> scores = new LinkedHashMap<>();
                Label best = null;
                for (int id = 0; id < labels; id++) {
                    String name = outputIDInfo.getOutput(id).getLabel();
                    Label scored = new Label(name, probabilities[i * labels + id]);
                    scores.put(name, scored);
                    if (best == null || scored.getScore() > best.getScore()) {
                        best = scored;
                    }
                }
                out.add(new Prediction<>(best, scores, batch.get(i).size(), batch.get(i), true));
            }
            batch.clear();
        }
        return out;
    }

    /** Empty: a transformer has no per-feature weights. */
    @Override
    public Map<String, List<Pair<String, Double>>> getTopFeatures(int n) {
        return Map.of();
    }

    /** Absent: a transformer's prediction is not a sum of per-feature contributions. */
    @Override
    public Optional<Excuse<Label>> getExcuse(Example<Label> example) {
        return Optional.empty();
    }

    @Override
    protected TextPeftModel copy(String newName, ModelProvenance newProvenance) {
        return new TextPeftModel(newName, newProvenance, featureIDMap, outputIDInfo, encoder, maxLength, textField,
                adapterConfig, adapterWeights.clone());
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
    @SuppressWarnings("unchecked")
    public static TextPeftModel deserializeFromProto(int version, String className, Any message)
            throws InvalidProtocolBufferException {
        if (version < 0 || version > PROTO_VERSION) {
            throw new IllegalArgumentException("unknown version " + version + " of " + className + ", this peft4j reads"
                    + " versions up to " + PROTO_VERSION);
        }
        Map<String, ByteString> fields = PROTO.unpack(message);
        ModelDataCarrier<?> carrier = ModelDataCarrier.deserialize(ModelDataProto.parseFrom(fields.get("metadata")));
        PretrainedEncoder encoder = new PretrainedEncoder(
                PretrainedEncoder.Kind.valueOf(fields.get("encoder_kind").toStringUtf8()),
                fields.get("encoder_location").toStringUtf8(), fields.get("encoder_tokenizer").toStringUtf8());
        AdapterCheckpoint adapter = AdapterCheckpoint.parse(fields.get("adapter_config").toStringUtf8(),
                fields.get("adapter_weights").toByteArray(), className);
        return new TextPeftModel(carrier.name(), carrier.provenance(), carrier.featureDomain(),
                (ImmutableOutputInfo<Label>) carrier.outputDomain(), encoder,
                fields.get("max_length").asReadOnlyByteBuffer().getInt(), fields.get("text_field").toStringUtf8(),
                adapter);
    }
}
