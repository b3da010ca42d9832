package org.peft4j.djl.models.bert;

import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.peft4j.api.internal.AtomicFiles;
import org.peft4j.djl.internal.StateDicts;

/**
 * Writes a BERT-family model whose encoder was loaded from an ONNX export (such as the bundled
 * all-MiniLM-L6-v2) back as ONNX, for ONNX Runtime and the tools built on it (langchain4j's
 * {@code OnnxEmbeddingModel}, ...). The file is the source graph with every weight initializer
 * replaced by the model's current weights, typically after {@code PeftModel.mergeAndUnload()} of a
 * LoRA or IA3 adapter: named initializers ({@code embeddings.*}, biases, LayerNorm weights) by name,
 * and the anonymous MatMul weights ({@code onnx::MatMul_787}, stored [in, out]) by the bias their
 * product is added to, as {@link BertLoader#fromOnnx(Path, ai.djl.ndarray.NDManager)} names them,
 * transposed back. Every node, input, output and other initializer stays as it was, so the
 * unchanged base exports with the very bytes it was read from.
 *
 * <p>A {@link BertSequenceClassifier} also gets its head appended as new nodes after
 * {@value #LAST_HIDDEN_STATE}: its pooling as it computes it ({@link ClassifierHead#POOLER}:
 * tanh(pooler.dense(h[:, 0])); {@link ClassifierHead#MEAN_POOLING}: the mean of the unmasked
 * tokens' states) and the linear {@code classifier}, with a new graph output {@value #LOGITS}
 * [batch, labels]; {@value #LAST_HIDDEN_STATE} stays an output. The appended nodes use only
 * operators whose signature is the same from opset 11 on (Gather, MatMul, Add, Tanh, Cast,
 * Reshape, Max, Div). The classifier's labels and head are recorded in the model's metadata
 * ({@value #LABELS_METADATA}, {@value #HEAD_METADATA}).
 *
 * <p>It needs ONNX's protobuf classes, {@code org.tribuo:tribuo-util-onnx} (an optional dependency
 * of peft-djl, so that applications that do not export do not carry it; peft4j-bom manages its
 * version): add that artifact to use it.
 */
public final class OnnxExport {
    /** The encoder's output, which the source graph must have. */
    public static final String LAST_HIDDEN_STATE = "last_hidden_state";
    /** The classifier's output, which the export adds. */
    public static final String LOGITS = "logits";
    /** The model metadata key of the label names, a JSON array in output order. */
    public static final String LABELS_METADATA = "peft4j_labels";
    /** The model metadata key of the classifier's head ({@link ClassifierHead#recordedName()}). */
    public static final String HEAD_METADATA = "peft4j_head";

    private static final String ATTENTION_MASK = "attention_mask";
    private static final String HEAD_PREFIX = "/peft4j_head/";
    /** TensorProto.DataType values. */
    private static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;
    private static final int INT64 = TensorProto.DataType.INT64_VALUE;
    private static final ObjectMapper JSON = new ObjectMapper();

    private OnnxExport() {}

    /**
     * Exports {@code model} (a {@link BertModel} or a {@link BertSequenceClassifier}) to a new file
     * {@code target}, written atomically (a crash leaves no partial file), from the ONNX export its
     * encoder was loaded from.
     *
     * @param labels the classifier's label names in output order, recorded in the metadata; null
     *     for none (and for an encoder)
     * @throws IllegalArgumentException if {@code source} is not an ONNX export, the model does not
     *     fit its graph (a parameter with no initializer, a shape that differs, adapters still
     *     attached), or {@code target} already exists
     */
    public static void write(Block model, List<String> labels, PretrainedEncoder source, Path target) throws IOException {
        if (Files.exists(target)) {
            throw new IllegalArgumentException(target + " already exists; the ONNX export writes a new file:"
                    + " remove it or choose another path");
        }
        ModelProto exported = export(model, labels, source);
        try {
            AtomicFiles.write(target, exported::writeTo);
        } catch (FileAlreadyExistsException e) {
            throw new IllegalArgumentException(target + " already exists; the ONNX export writes a new file", e);
        }
    }

    /**
     * Exports {@code model} as {@link #write(Block, List, PretrainedEncoder, Path)} does, to a stream.
     *
     * @throws IllegalArgumentException if {@code source} is not an ONNX export or the model does not fit its graph
     */
    public static void write(Block model, List<String> labels, PretrainedEncoder source, OutputStream out)
            throws IOException {
        export(model, labels, source).writeTo(out);
    }

    /**
     * Checks that {@code source} is an ONNX export (a file or a classpath resource), which an
     * export needs as its graph.
     *
     * @throws IllegalArgumentException if it is a Hugging Face model directory
     */
    public static void requireOnnxSource(PretrainedEncoder source) {
        if (source.kind() == PretrainedEncoder.Kind.HUGGING_FACE) {
            throw new IllegalArgumentException("an ONNX export rewrites the ONNX graph the model was loaded from, and "
                    + source + " is a Hugging Face model directory, not an ONNX export; export it as a Hugging Face"
                    + " directory instead, or load the base from its ONNX export");
        }
    }

    private static ModelProto export(Block model, List<String> labels, PretrainedEncoder source) throws IOException {
        requireOnnxSource(source);
        ModelProto graph;
        try (InputStream in = openOnnx(source)) {
            graph = ModelProto.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(source.location() + ": not an ONNX model: " + e.getMessage(), e);
        }
        return export(model, labels, graph, source.location());
    }

    private static InputStream openOnnx(PretrainedEncoder source) throws IOException {
        if (source.kind() == PretrainedEncoder.Kind.ONNX) {
            return Files.newInputStream(Path.of(source.location()));
        }
        InputStream in = OnnxExport.class.getResourceAsStream(source.location());
        if (in == null) {
            throw new IOException("classpath resource " + source.location() + " not found (the model was loaded from"
                    + " it: is the jar that holds it still on the classpath?)");
        }
        return in;
    }

    /** The source graph with the model's weights, and the classifier's head appended. */
    static ModelProto export(Block model, List<String> labels, ModelProto source, String sourceName) {
        BertSequenceClassifier classifier = model instanceof BertSequenceClassifier c ? c : null;
        BertModel bert;
        if (classifier != null) {
            bert = classifier.bert();
        } else if (model instanceof BertModel b) {
            bert = b;
        } else {
            throw new IllegalArgumentException("only a BertModel or a BertSequenceClassifier exports to ONNX, got "
                    + model.getClass().getName());
        }
        if (labels != null && classifier != null && labels.size() != classifier.numLabels()) {
            throw new IllegalArgumentException(labels.size() + " label names for " + classifier.numLabels() + " outputs");
        }
        Map<String, Parameter> parameters = StateDicts.namedParameters(bert);
        GraphProto.Builder graph = source.getGraph().toBuilder();
        Map<String, String> transposedWeightOf = matMulWeightNames(graph);
        Map<String, String> initializerOf = new HashMap<>();
        for (int i = 0; i < graph.getInitializerCount(); i++) {
            TensorProto t = graph.getInitializer(i);
            String name = t.getName();
            boolean transposed = !parameters.containsKey(name) && transposedWeightOf.containsKey(name);
            String parameter = transposed ? transposedWeightOf.get(name) : name;
            Parameter p = parameters.get(parameter);
            if (p == null) {
                continue;
            }
            if (t.getDataType() != FLOAT) {
                throw new IllegalArgumentException(sourceName + ": initializer \"" + name + "\" holds "
                        + TensorProto.DataType.forNumber(t.getDataType()) + " values; the export writes FLOAT weights");
            }
            long[] shape = p.getArray().getShape().getShape();
            long[] stored = transposed ? new long[] {shape[1], shape[0]} : shape;
            long[] dims = t.getDimsList().stream().mapToLong(Long::longValue).toArray();
            if (!Arrays.equals(dims, stored)) {
                throw new IllegalArgumentException(sourceName + ": initializer \"" + name + "\" has shape "
                        + Arrays.toString(dims) + " but the model's " + parameter + " needs " + Arrays.toString(stored)
                        + (transposed ? " (the MatMul weight, [in, out])" : "") + ": the model was not loaded from this graph");
            }
            float[] values = p.getArray().toFloatArray();
            graph.setInitializer(i, withValues(t, transposed ? transpose(values, shape) : values));
            initializerOf.put(parameter, name);
        }
        Set<String> missing = new TreeSet<>(parameters.keySet());
        missing.removeAll(initializerOf.keySet());
        missing.removeIf(name -> name.startsWith("pooler."));
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException(sourceName + ": the ONNX graph has no initializer for "
                    + missing.stream().limit(10).toList() + (missing.size() > 10 ? " (" + missing.size() + " in all)" : "")
                    + "; the model does not fit the graph it was loaded from (merge adapters into the weights first:"
                    + " PeftModel.mergeAndUnload(); prompt and prefix tuning cannot merge)");
        }
        ModelProto.Builder out = source.toBuilder();
        if (classifier != null) {
            appendHead(graph, classifier, parameters, initializerOf, opset(source), sourceName);
            out.addMetadataProps(entry(HEAD_METADATA, classifier.head().recordedName()));
            if (labels != null) {
                out.addMetadataProps(entry(LABELS_METADATA, jsonArray(labels)));
            }
        }
        return out.setGraph(graph).build();
    }

    /**
     * The parameter name of each anonymous MatMul weight, found as {@link BertLoader} finds it: the
     * MatMul's product feeds an {@code Add} whose other input is the initializer {@code X.bias},
     * so the MatMul holds {@code X.weight}, transposed.
     */
    private static Map<String, String> matMulWeightNames(GraphProto.Builder graph) {
        Set<String> initializers = new HashSet<>();
        graph.getInitializerList().forEach(t -> initializers.add(t.getName()));
        Map<String, NodeProto> addConsuming = new HashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            if (node.getOpType().equals("Add")) {
                node.getInputList().forEach(input -> addConsuming.put(input, node));
            }
        }
        Map<String, String> names = new HashMap<>();
        for (NodeProto node : graph.getNodeList()) {
            if (!node.getOpType().equals("MatMul") || node.getInputCount() != 2 || node.getOutputCount() == 0
                    || !initializers.contains(node.getInput(1))) {
                continue;
            }
            NodeProto add = addConsuming.get(node.getOutput(0));
            if (add == null) {
                continue;
            }
            for (String input : add.getInputList()) {
                if (input.endsWith(".bias") && initializers.contains(input)) {
                    names.put(node.getInput(1), input.substring(0, input.length() - ".bias".length()) + ".weight");
                }
            }
        }
        return names;
    }

    /** {@code t} with {@code values} in place of its own, stored the way {@code t} stored them. */
    private static TensorProto withValues(TensorProto t, float[] values) {
        TensorProto.Builder b = t.toBuilder();
        if (t.getFloatDataCount() > 0) {
            b.clearFloatData();
            for (float v : values) {
                b.addFloatData(v);
            }
            return b.build();
        }
        return b.setRawData(littleEndian(values)).build();
    }

    private static ByteString littleEndian(float[] values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        buffer.asFloatBuffer().put(values);
        return ByteString.copyFrom(buffer.array());
    }

    /** A [rows, cols] matrix, row-major, as [cols, rows]. */
    private static float[] transpose(float[] in, long[] shape) {
        int rows = Math.toIntExact(shape[0]);
        int cols = Math.toIntExact(shape[1]);
        float[] out = new float[in.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = in[r * cols + c];
            }
        }
        return out;
    }

    /** The default domain's opset version of the model. */
    private static long opset(ModelProto model) {
        for (OperatorSetIdProto id : model.getOpsetImportList()) {
            if (id.getDomain().isEmpty() || id.getDomain().equals("ai.onnx")) {
                return id.getVersion();
            }
        }
        return 0;
    }

    /** Appends the classifier's pooling and linear layer after {@value #LAST_HIDDEN_STATE}, with the output {@value #LOGITS}. */
    private static void appendHead(GraphProto.Builder graph, BertSequenceClassifier classifier,
            Map<String, Parameter> encoderParameters, Map<String, String> initializerOf, long opset, String sourceName) {
        if (opset < 11) {
            throw new IllegalArgumentException(sourceName + ": the graph imports opset " + opset
                    + "; the classifier's head is written for opset 11 or later");
        }
        ValueInfoProto hiddenInfo = graph.getOutputList().stream().filter(o -> o.getName().equals(LAST_HIDDEN_STATE))
                .findFirst().orElseThrow(() -> new IllegalArgumentException(sourceName + ": the graph has no output \""
                        + LAST_HIDDEN_STATE + "\" to put the classifier on; its outputs: "
                        + graph.getOutputList().stream().map(ValueInfoProto::getName).toList()));
        Set<String> taken = new HashSet<>();
        graph.getInitializerList().forEach(t -> taken.add(t.getName()));
        graph.getNodeList().forEach(n -> taken.addAll(n.getOutputList()));
        graph.getInputList().forEach(i -> taken.add(i.getName()));
        if (taken.contains(LOGITS)) {
            throw new IllegalArgumentException(sourceName + ": the graph already has a value named \"" + LOGITS
                    + "\"; export the encoder alone");
        }
        Head head = new Head(graph, taken);
        String pooled;
        if (classifier.head() == ClassifierHead.POOLER) {
            String first = head.node("Gather", List.of(LAST_HIDDEN_STATE, head.int64("cls_index", new long[0], 0L)),
                    List.of(intAttribute("axis", 1)));
            // a pooler the source graph holds was replaced above; one it lacks (a new, trained pooler) is added
            String weight = initializerOf.get("pooler.dense.weight");
            String bias = initializerOf.get("pooler.dense.bias");
            if (weight == null || bias == null) {
                weight = head.matMulWeight("pooler.dense.weight", encoderParameters.get("pooler.dense.weight"));
                bias = head.floats("pooler.dense.bias", encoderParameters.get("pooler.dense.bias"));
            }
            String dense = head.node("Add", List.of(head.node("MatMul", List.of(first, weight)), bias));
            pooled = head.node("Tanh", List.of(dense));
        } else {
            if (graph.getInputList().stream().noneMatch(i -> i.getName().equals(ATTENTION_MASK))) {
                throw new IllegalArgumentException(sourceName + ": the graph has no input \"" + ATTENTION_MASK
                        + "\", which mean pooling needs");
            }
            // mean over the unmasked tokens as two batched products: (m [B,1,T] x h [B,T,H]) / (m x m^T),
            // where m x m^T = sum(m) because the mask holds 0 and 1
            String mask = head.node("Cast", List.of(ATTENTION_MASK), List.of(intAttribute("to", FLOAT)));
            String row = head.node("Reshape", List.of(mask, head.int64("row_shape", new long[] {3}, 0L, 1L, -1L)));
            String column = head.node("Reshape", List.of(mask, head.int64("column_shape", new long[] {3}, 0L, -1L, 1L)));
            String sum = head.node("MatMul", List.of(row, LAST_HIDDEN_STATE));
            String count = head.node("Max", List.of(head.node("MatMul", List.of(row, column)),
                    head.floatScalar("min_count", 1e-9f)));
            pooled = head.node("Reshape", List.of(head.node("Div", List.of(sum, count)),
                    head.int64("pooled_shape", new long[] {2}, 0L, -1L)));
        }
        Map<String, Parameter> linear = StateDicts.namedParameters(classifier.classifier());
        String product = head.node("MatMul", List.of(pooled, head.matMulWeight("classifier.weight", linear.get("weight"))));
        graph.addNode(NodeProto.newBuilder().setOpType("Add").setName(HEAD_PREFIX + "classifier/Add")
                .addInput(product).addInput(head.floats("classifier.bias", linear.get("bias"))).addOutput(LOGITS));
        TensorShapeProto.Dimension batch = hiddenInfo.getType().getTensorType().getShape().getDimCount() > 0
                ? hiddenInfo.getType().getTensorType().getShape().getDim(0)
                : TensorShapeProto.Dimension.newBuilder().setDimParam("batch_size").build();
        graph.addOutput(ValueInfoProto.newBuilder().setName(LOGITS).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(FLOAT).setShape(TensorShapeProto.newBuilder().addDim(batch)
                        .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(classifier.numLabels()))))));
    }

    /** Appends nodes and initializers of the head to a graph under fresh names. */
    private static final class Head {
        private final GraphProto.Builder graph;
        private final Set<String> taken;
        private int nodes;

        Head(GraphProto.Builder graph, Set<String> taken) {
            this.graph = graph;
            this.taken = taken;
        }

        /** A name no value of the graph has yet. */
        private String fresh(String wanted) {
            String name = wanted;
            for (int i = 1; taken.contains(name); i++) {
                name = wanted + "_" + i;
            }
            taken.add(name);
            return name;
        }

        String node(String opType, List<String> inputs) {
            return node(opType, inputs, List.of());
        }

        /** Appends a node with one output and returns the output's name. */
        String node(String opType, List<String> inputs, List<AttributeProto> attributes) {
            String name = HEAD_PREFIX + opType + "_" + nodes++;
            String output = fresh(name + "_output_0");
            graph.addNode(NodeProto.newBuilder().setOpType(opType).setName(name).addAllInput(inputs)
                    .addAllAttribute(attributes).addOutput(output));
            return output;
        }

        /** A Linear layer's weight [out, in] as the MatMul weight [in, out], named as the source names its own. */
        String matMulWeight(String parameter, Parameter p) {
            long[] shape = p.getArray().getShape().getShape();
            return add(tensor(fresh("onnx::MatMul_" + parameter), new long[] {shape[1], shape[0]},
                    transpose(p.getArray().toFloatArray(), shape)));
        }

        String floats(String name, Parameter p) {
            return add(tensor(fresh(name), p.getArray().getShape().getShape(), p.getArray().toFloatArray()));
        }

        String floatScalar(String name, float value) {
            return add(tensor(fresh(HEAD_PREFIX + name), new long[0], new float[] {value}));
        }

        String int64(String name, long[] dims, long... values) {
            TensorProto.Builder t = TensorProto.newBuilder().setName(fresh(HEAD_PREFIX + name)).setDataType(INT64);
            Arrays.stream(dims).forEach(t::addDims);
            Arrays.stream(values).forEach(t::addInt64Data);
            return add(t.build());
        }

        private String add(TensorProto t) {
            graph.addInitializer(t);
            return t.getName();
        }

        private static TensorProto tensor(String name, long[] dims, float[] values) {
            TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(FLOAT)
                    .setRawData(littleEndian(values));
            Arrays.stream(dims).forEach(t::addDims);
            return t.build();
        }
    }

    private static AttributeProto intAttribute(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    /** A JSON array of strings. */
    private static String jsonArray(List<String> values) {
        try {
            return JSON.writeValueAsString(values);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a list of strings always serializes", e);
        }
    }
}
