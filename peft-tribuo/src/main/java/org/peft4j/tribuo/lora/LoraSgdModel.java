package org.peft4j.tribuo.lora;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.Any;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import com.oracle.labs.mlrg.olcut.util.Pair;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.time.OffsetDateTime;
import com.oracle.labs.mlrg.olcut.provenance.primitives.StringProvenance;
import org.peft4j.tribuo.internal.BytesMessage;
import org.peft4j.tribuo.io.DisallowedClassException;
import org.peft4j.tribuo.io.ModelReader;
import org.peft4j.tribuo.sgd.AdaptedSgdTrainer;
import org.peft4j.api.PeftConfig;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.checkpoint.AdapterConfigJson;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.lora.LoraBias;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.algebra.LoraResize;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.tribuo.sgd.AlignedDomain;
import org.peft4j.tribuo.sgd.SgdModelFamily;
import org.tribuo.Example;
import org.tribuo.Excuse;
import org.tribuo.ImmutableOutputInfo;
import org.tribuo.Model;
import org.tribuo.ONNXExportable;
import org.tribuo.Output;
import org.tribuo.Prediction;
import org.tribuo.RealInfo;
import org.tribuo.VariableInfo;
import org.tribuo.common.sgd.SGDObjective;
import org.tribuo.impl.ModelDataCarrier;
import org.tribuo.math.la.DenseMatrix;
import org.tribuo.math.la.DenseVector;
import org.tribuo.util.onnx.ONNXNode;
import org.tribuo.util.onnx.ONNXRef;
import org.tribuo.protos.core.ModelDataProto;
import org.tribuo.protos.core.ModelProto;
import org.tribuo.provenance.ModelProvenance;


/**
 * A Tribuo SGD model (linear or factorization machine) adapted with LoRA, the adapter kept apart
 * from the base: it holds the untouched base model and the adapter (A [r, features], B [outputs, r]
 * on the linear weights, and the trained bias when the config's bias is not {@code none}), so the adapter can be saved alone in Hugging Face PEFT's
 * layout ({@link #saveAdapter}), loaded onto the same base ({@link #load}), or merged into a stock
 * Tribuo model ({@link #merge}). It predicts with the weights W + s·B·A and b + Δb, formed once
 * when the model is built (as cheap as one prediction over all features), so its
 * predictions, top features, excuses and ONNX export are those of the merged model.
 *
 * <p>Saved adapters name their feature columns and output rows in the safetensors metadata
 * ({@value #FEATURE_NAMES} and {@value #OUTPUT_NAMES}, JSON arrays), and are laid back onto the base
 * by name, so a base whose feature ids moved still receives the right columns. The weights are saved
 * as F64, Tribuo's own precision, so a saved and reloaded adapter predicts bit for bit the same.
 *
 * <p>Both of Tribuo's serializations work: Java serialization, and protobuf ({@link #serialize},
 * read back by Tribuo's {@code Model.deserialize}), which stores the base model's proto and the
 * adapter's two files.
 *
 * @param <T> the output type
 */
public final class LoraSgdModel<T extends Output<T>> extends Model<T> implements ONNXExportable {
    private static final long serialVersionUID = 1L;
    /** The module name of a linear model's weight matrix in adapter files and target lists. */
    public static final String MODULE = "linear";
    /** Safetensors metadata key: the JSON array of the feature names of A's columns. */
    public static final String FEATURE_NAMES = "peft4j.feature_names";
    /** Safetensors metadata key: the JSON array of the output names of B's rows. */
    public static final String OUTPUT_NAMES = "peft4j.output_names";
    /** Safetensors metadata key: the class of the loss the adapter was trained with. */
    public static final String OBJECTIVE = "peft4j.objective";
    /** The key, in a loaded model's instance provenance, of where its adapter came from. */
    public static final String ADAPTER_SOURCE = "peft4j.adapter-source";
    private static final String PREFIX = "base_model.model." + MODULE + ".";
    private static final String KEY_A = PREFIX + "lora_A.weight";
    private static final String KEY_B = PREFIX + "lora_B.weight";
    private static final String KEY_BIAS = PREFIX + "bias";
    private static final int PROTO_VERSION = 0;
    private static final BytesMessage PROTO = new BytesMessage("LoraSgdModelProto",
            List.of("metadata", "base_model", "adapter_config", "adapter_weights"),
            Map.of("metadata", ModelDataProto.getDescriptor(), "base_model", ModelProto.getDescriptor()));
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Model<T> base;
    /** The config as adapter_config.json holds it (LoraConfig itself is not Serializable). */
    private final String configJson;
    /** The loss's class; Tribuo's losses have no-argument constructors and are not Serializable. */
    private final String objectiveClass;
    private final AlignedDomain<T> domain;
    private final LoraParameters adapter;
    private final Model<T> merged;

    private LoraSgdModel(String name, ModelProvenance provenance, Model<T> base, LoraConfig config,
            SGDObjective<?> objective, AlignedDomain<T> domain, LoraParameters adapter) {
        super(name, provenance, domain.features(), domain.outputs(), base.generatesProbabilities());
        this.base = base;
        this.configJson = AdapterConfigJson.toJson(config);
        this.objectiveClass = objective.getClass().getName();
        this.domain = domain;
        this.adapter = adapter;
        SgdModelFamily<T> family = SgdModelFamily.of(base);
        this.merged = family.build(objective, name, provenance, domain.features(), domain.outputs(),
                family.parameters(adapter.merged()));
    }

    /** Wraps a freshly trained adapter. */
    static <T extends Output<T>> LoraSgdModel<T> of(String name, ModelProvenance provenance, Model<T> base,
            LoraConfig config, SGDObjective<?> objective, AlignedDomain<T> domain, LoraParameters adapter) {
        return new LoraSgdModel<>(name, provenance, base, config, objective, domain, adapter);
    }

    /** The base model, unchanged by the adaptation. */
    public Model<T> base() {
        return base;
    }

    /** The adapter's settings. */
    public LoraConfig config() {
        return (LoraConfig) AdapterConfigJson.parse(configJson, "the config of " + getName());
    }

    /** The number of trained parameters: A, B and the trained bias. */
    public long trainableParameters() {
        DenseMatrix a = adapter.a();
        DenseMatrix b = adapter.b();
        return (long) a.getDimension1Size() * a.getDimension2Size() + (long) b.getDimension1Size() * b.getDimension2Size()
                + (adapter.biasChange() == null ? 0 : adapter.biasChange().size());
    }

    /**
     * Returns this model with its adapter at another rank, by a truncated SVD of the weight change
     * s·B·A ({@link LoraResize}): at the current rank or above it predicts as this model does (up to
     * rounding); below, with the best rank-{@code rank} approximation of the change. The trained bias
     * and the names are kept; the new adapter has s = 1.
     *
     * @throws IllegalArgumentException if the rank is not positive
     */
    public LoraSgdModel<T> resize(int rank) {
        return fromCheckpoint(base, LoraResize.resize(checkpoint(), rank), "resize of " + getName() + " to rank " + rank);
    }

    /**
     * Returns a stock Tribuo model (the base's own class) whose weights are W + [s·B·A, Δb], with
     * this model's name and provenance. It no longer knows its adapter.
     */
    public Model<T> merge() {
        return merged.copy();
    }

    @Override
    public Prediction<T> predict(Example<T> example) {
        return merged.predict(example);
    }

    @Override
    public Map<String, List<Pair<String, Double>>> getTopFeatures(int n) {
        return merged.getTopFeatures(n);
    }

    @Override
    public Optional<Excuse<T>> getExcuse(Example<T> example) {
        return merged.getExcuse(example);
    }

    @Override
    protected LoraSgdModel<T> copy(String newName, ModelProvenance newProvenance) {
        return new LoraSgdModel<>(newName, newProvenance, base, config(),
                objective(objectiveClass, SgdModelFamily.of(base), base, getName()), domain, adapter.copy());
    }

    /** Writes the merged weights' graph: the adapted model as ONNX, where the base model supports it. */
    @Override
    public ONNXNode writeONNXGraph(ONNXRef<?> input) {
        return ((ONNXExportable) merged).writeONNXGraph(input);
    }

    /** Exports the merged weights as an ONNX model, as the base model's class does. */
    @Override
    public ai.onnx.proto.OnnxMl.ModelProto exportONNXModel(String domain, long modelVersion) {
        return ((ONNXExportable) merged).exportONNXModel(domain, modelVersion);
    }

    // ---- the adapter's names, and laying it onto the base ----

    private List<String> featureNames() {
        List<String> names = new ArrayList<>(featureIDMap.size());
        for (int j = 0; j < featureIDMap.size(); j++) {
            names.add(featureIDMap.get(j).getName());
        }
        return names;
    }

    private List<String> outputNames() {
        SgdModelFamily<T> family = SgdModelFamily.of(base);
        List<String> names = new ArrayList<>(outputIDInfo.size());
        for (int o = 0; o < outputIDInfo.size(); o++) {
            names.add(family.dimensionName(outputIDInfo, o));
        }
        return names;
    }

    /** The base's domain widened by the named features and outputs. */
    private static <T extends Output<T>> AlignedDomain<T> domainOf(Model<T> base, List<String> features,
            List<String> outputs) {
        SgdModelFamily<T> family = SgdModelFamily.of(base);
        List<VariableInfo> infos = new ArrayList<>();
        features.forEach(name -> infos.add(new RealInfo(name)));
        List<T> outputList = new ArrayList<>();
        ImmutableOutputInfo<T> baseOutputs = base.getOutputIDInfo();
        List<String> known = new ArrayList<>();
        for (int o = 0; o < baseOutputs.size(); o++) {
            known.add(family.dimensionName(baseOutputs, o));
        }
        outputs.stream().filter(name -> !known.contains(name)).forEach(name -> outputList.add(family.outputNamed(name)));
        return AlignedDomain.align(base, family, infos, outputList, AlignedDomain.NewFeatures.LEARN);
    }

    // ---- Hugging Face layout ----

    /** The adapter as Hugging Face PEFT lays it out, with its names in the metadata. */
    private AdapterCheckpoint checkpoint() {
        DenseMatrix a = adapter.a();
        DenseMatrix b = adapter.b();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put(KEY_A, Tensor.ofDoubles(new long[] {a.getDimension1Size(), a.getDimension2Size()}, rows(a)));
        tensors.put(KEY_B, Tensor.ofDoubles(new long[] {b.getDimension1Size(), b.getDimension2Size()}, rows(b)));
        if (adapter.biasChange() != null) {
            double[] bias = adapter.merged().bias().toArray();
            tensors.put(KEY_BIAS, Tensor.ofDoubles(new long[] {bias.length}, bias));
        }
        Map<String, String> metadata = new HashMap<>();
        try {
            metadata.put(FEATURE_NAMES, JSON.writeValueAsString(featureNames()));
            metadata.put(OUTPUT_NAMES, JSON.writeValueAsString(outputNames()));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        metadata.put(OBJECTIVE, objectiveClass);
        LoraConfig saved = config().toBuilder().optBaseModelNameOrPath(base.getName()).build().withInferenceMode(true);
        return new AdapterCheckpoint(saved, tensors, metadata);
    }

    private static double[] rows(DenseMatrix m) {
        double[] out = new double[m.getDimension1Size() * m.getDimension2Size()];
        for (int i = 0; i < m.getDimension1Size(); i++) {
            for (int j = 0; j < m.getDimension2Size(); j++) {
                out[i * m.getDimension2Size() + j] = m.get(i, j);
            }
        }
        return out;
    }

    /**
     * Saves the adapter alone in Hugging Face PEFT's layout: {@code adapter_config.json} and
     * {@code adapter_model.safetensors} with {@code base_model.model.linear.lora_A.weight} [r,
     * features], {@code lora_B.weight} [outputs, r] and, if the bias trained, {@code linear.bias}
     * (the whole trained bias, as PEFT saves a trained bias). Each file is replaced atomically.
     */
    public void saveAdapter(Path directory) throws IOException {
        checkpoint().save(directory);
    }

    /**
     * Lays a saved adapter onto {@code base}. Everything is checked before the model is built:
     * the adapter type, the tensors and their shapes, the names in the metadata.
     *
     * @throws AdapterFormatException if the directory does not hold a LoRA adapter for a linear model
     *     of this kind
     * @throws IOException if a file cannot be read
     */
    public static <T extends Output<T>> LoraSgdModel<T> load(Model<T> base, Path directory) throws IOException {
        return fromCheckpoint(base, AdapterCheckpoint.load(directory), directory.toString());
    }

    private static <T extends Output<T>> LoraSgdModel<T> fromCheckpoint(Model<T> base, AdapterCheckpoint checkpoint,
            String source) {
        SgdModelFamily<T> family = SgdModelFamily.of(base);
        PeftConfig peftConfig = checkpoint.config();
        if (!(peftConfig instanceof LoraConfig)) {
            throw new AdapterFormatException(source + ": a " + peftConfig.peftType() + " adapter cannot adapt a linear"
                    + " model; expected LORA");
        }
        LoraConfig config = ((LoraConfig) peftConfig).withInferenceMode(false);
        if (config.useDora()) {
            throw new AdapterFormatException(source + ": a DoRA adapter (use_dora) cannot adapt a Tribuo linear model;"
                    + " load it on a DJL model (org.peft4j.djl)");
        }
        List<String> features = names(checkpoint, FEATURE_NAMES, source);
        List<String> outputs = names(checkpoint, OUTPUT_NAMES, source);
        int rank = config.rankFor(MODULE);
        double[] a = tensor(checkpoint, KEY_A, new long[] {rank, features.size()}, source);
        double[] b = tensor(checkpoint, KEY_B, new long[] {outputs.size(), rank}, source);
        boolean trainBias = config.bias() != LoraBias.NONE;
        double[] bias = trainBias ? tensor(checkpoint, KEY_BIAS, new long[] {outputs.size()}, source) : null;
        List<String> unexpected = new ArrayList<>(checkpoint.tensors().keySet());
        unexpected.removeAll(List.of(KEY_A, KEY_B, KEY_BIAS));
        if (!trainBias) {
            unexpected.remove(KEY_BIAS);
        }
        if (!unexpected.isEmpty()) {
            throw new AdapterFormatException(source + ": unexpected tensors " + unexpected + "; a linear model's adapter"
                    + " holds " + KEY_A + ", " + KEY_B + (trainBias ? " and " + KEY_BIAS : ""));
        }
        SGDObjective<?> objective = objective(checkpoint.metadata().get(OBJECTIVE), family, base, source);

        AlignedDomain<T> domain = domainOf(base, features, outputs);
        int[] column = new int[features.size()];
        for (int j = 0; j < column.length; j++) {
            column[j] = domain.features().getID(features.get(j));
        }
        Map<String, Integer> rowOf = new HashMap<>();
        for (int o = 0; o < domain.outputs().size(); o++) {
            rowOf.put(family.dimensionName(domain.outputs(), o), o);
        }
        DenseMatrix matrixA = new DenseMatrix(rank, domain.features().size());
        for (int k = 0; k < rank; k++) {
            for (int j = 0; j < column.length; j++) {
                matrixA.set(k, column[j], a[k * column.length + j]);
            }
        }
        DenseMatrix matrixB = new DenseMatrix(domain.outputs().size(), rank);
        DenseVector biasChange = trainBias ? new DenseVector(domain.outputs().size()) : null;
        for (int o = 0; o < outputs.size(); o++) {
            int row = rowOf.get(outputs.get(o));
            for (int k = 0; k < rank; k++) {
                matrixB.set(row, k, b[o * rank + k]);
            }
            if (trainBias) {
                biasChange.set(row, bias[o] - domain.baseWeights().bias().get(row));
            }
        }
        LoraParameters parameters = LoraParameters.of(domain.baseWeights(), family.parameters(domain.baseWeights()),
                config.scalingFor(MODULE), trainBias,
                matrixA, matrixB, biasChange);
        String name = "lora(" + base.getName() + ")";
        ModelProvenance provenance = new ModelProvenance(LoraSgdModel.class.getName(), OffsetDateTime.now(),
                base.getProvenance().getDatasetProvenance(), base.getProvenance().getTrainerProvenance(),
                Map.of(AdaptedSgdTrainer.BASE_MODEL_PROVENANCE, base.getProvenance(),
                        ADAPTER_SOURCE, new StringProvenance(ADAPTER_SOURCE, source)));
        return new LoraSgdModel<>(name, provenance, base, config, objective, domain, parameters);
    }

    private static List<String> names(AdapterCheckpoint checkpoint, String key, String source) {
        String json = checkpoint.metadata().get(key);
        if (json == null) {
            throw new AdapterFormatException(source + ": the safetensors metadata has no \"" + key + "\"; it is not an"
                    + " adapter of a Tribuo linear model");
        }
        try {
            return JSON.readValue(json, new TypeReference<List<String>>() {});
        } catch (JsonProcessingException e) {
            throw new AdapterFormatException(source + ": metadata \"" + key + "\" is not a JSON array of names", e);
        }
    }

    private static double[] tensor(AdapterCheckpoint checkpoint, String key, long[] shape, String source) {
        Tensor tensor = checkpoint.tensors().get(key);
        if (tensor == null) {
            throw new AdapterFormatException(source + ": missing tensor " + key + "; present: "
                    + checkpoint.tensors().keySet());
        }
        if (!Arrays.equals(tensor.shape(), shape)) {
            throw new AdapterFormatException(source + ": " + key + " has shape " + Arrays.toString(tensor.shape())
                    + ", expected " + Arrays.toString(shape) + " (from the config's rank and the metadata's names)");
        }
        if (!tensor.dtype().isFloatingPoint()) {
            throw new AdapterFormatException(source + ": " + key + " is " + tensor.dtype() + ", expected a float type");
        }
        return tensor.toDoubleArray();
    }

    private static <T extends Output<T>> SGDObjective<?> objective(String className, SgdModelFamily<T> family,
            Model<T> base, String source) {
        if (className == null) {
            return family.defaultObjective(base);
        }
        ModelReader.check(className, source + ": metadata \"" + OBJECTIVE + "\"");
        try {
            // loaded without initializing, and instantiated only if it is a loss of the right kind
            Class<?> type = Class.forName(className, false, LoraSgdModel.class.getClassLoader());
            family.checkObjectiveClass(type);
            return (SGDObjective<?>) type.getConstructor().newInstance();
        } catch (ReflectiveOperationException | IllegalArgumentException e) {
            throw new AdapterFormatException(source + ": cannot use the objective " + className + " for a "
                    + base.getClass().getName() + ": " + e.getMessage(), e);
        }
    }

    // ---- Tribuo's protobuf serialization ----

    /** Serializes the model: its metadata and provenance, the base model's proto and the adapter's files. */
    @Override
    public ModelProto serialize() {
        AdapterCheckpoint checkpoint = checkpoint();
        Any message = PROTO.pack(Map.of(
                "metadata", createDataCarrier().serialize().toByteString(),
                "base_model", base.serialize().toByteString(),
                "adapter_config", ByteString.copyFromUtf8(checkpoint.configJson()),
                "adapter_weights", ByteString.copyFrom(checkpoint.weightBytes())));
        return ModelProto.newBuilder().setVersion(PROTO_VERSION).setClassName(LoraSgdModel.class.getName())
                .setSerializedData(message).build();
    }

    /**
     * Reads a model written by {@link #serialize}; Tribuo's {@code Model.deserialize} calls this.
     *
     * @throws InvalidProtocolBufferException if the message is malformed or of a later version
     */
    @SuppressWarnings({"unchecked", "rawtypes"})
    public static LoraSgdModel<?> deserializeFromProto(int version, String className, Any message)
            throws InvalidProtocolBufferException {
        BytesMessage.checkVersion(version, PROTO_VERSION, className);
        Map<String, ByteString> fields = PROTO.unpack(message);
        ModelProto baseProto = ModelProto.parseFrom(fields.get("base_model"));
        if (!SgdModelFamily.supportedClassNames().contains(baseProto.getClassName())) {
            throw new DisallowedClassException(className + ": base_model.class_name " + baseProto.getClassName()
                    + " is not a model LoRA can adapt, so it was refused before being loaded; expected one of "
                    + SgdModelFamily.supportedClassNames(), baseProto.getClassName(), null);
        }
        ModelReader.checkClassNames(message, className);
        ModelDataCarrier<?> carrier = ModelDataCarrier.deserialize(ModelDataProto.parseFrom(fields.get("metadata")));
        Model base = Model.deserialize(baseProto);
        AdapterCheckpoint checkpoint = AdapterCheckpoint.parse(fields.get("adapter_config").toStringUtf8(),
                fields.get("adapter_weights").toByteArray(), className);
        LoraSgdModel<?> loaded = fromCheckpoint(base, checkpoint, className);
        return loaded.copy(carrier.name(), carrier.provenance());
    }
}
