package org.peft4j.djl.models.bert;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.WireFormat;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;

/**
 * The part of an ONNX model that loading a BERT export needs: the graph's nodes and its float
 * initializers. Read straight off the protobuf wire format with protobuf-java's
 * {@link CodedInputStream}, field numbers from ONNX's {@code onnx/onnx.proto3}
 * (ModelProto.graph = 7; GraphProto.node = 1, initializer = 5; NodeProto.input = 1, output = 2,
 * name = 3, op_type = 4, attribute = 5; AttributeProto.t = 5; TensorProto.dims = 1,
 * data_type = 2, float_data = 4, name = 8, raw_data = 9), so that reading ONNX costs no generated
 * classes and no other library's copy of them. Every other field is skipped.
 *
 * @param nodes the graph's nodes in file order
 * @param floatInitializers the initializers of data type FLOAT, in file order
 */
record OnnxGraph(List<Node> nodes, List<Initializer> floatInitializers) {
    /** TensorProto.DataType.FLOAT. */
    private static final int FLOAT = 1;

    /**
     * One node of the graph.
     *
     * @param name the node's name
     * @param opType its operator, such as {@code MatMul}
     * @param inputs the names of its inputs
     * @param outputs the names of its outputs
     * @param scalarConstant for a {@code Constant} node holding one float, its value; else null
     */
    record Node(String name, String opType, List<String> inputs, List<String> outputs, Float scalarConstant) {}

    /**
     * A named float tensor stored in the graph.
     *
     * @param name the initializer's name
     * @param tensor its values and shape
     */
    record Initializer(String name, Tensor tensor) {}

    /**
     * Reads a model.
     *
     * @throws InvalidProtocolBufferException if the bytes are not a protobuf message of this shape
     */
    static OnnxGraph read(InputStream in) throws IOException {
        CodedInputStream model = CodedInputStream.newInstance(in);
        model.setSizeLimit(Integer.MAX_VALUE);
        OnnxGraph graph = null;
        for (int tag = model.readTag(); tag != 0; tag = model.readTag()) {
            if (isMessage(tag, 7)) {
                graph = embedded(model, OnnxGraph::readGraph);
            } else {
                model.skipField(tag);
            }
        }
        if (graph == null) {
            throw new InvalidProtocolBufferException("the model has no graph");
        }
        return graph;
    }

    /** Reads one message of the stream's type. */
    @FunctionalInterface
    private interface MessageReader<T> {
        T read(CodedInputStream in) throws IOException;
    }

    /** Whether {@code tag} introduces field {@code field} holding an embedded message. */
    private static boolean isMessage(int tag, int field) {
        return WireFormat.getTagFieldNumber(tag) == field
                && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    /** Reads the length-delimited message that follows, in place (no copy of its bytes). */
    private static <T> T embedded(CodedInputStream in, MessageReader<T> reader) throws IOException {
        int limit = in.pushLimit(in.readRawVarint32());
        T value = reader.read(in);
        in.popLimit(limit);
        return value;
    }

    private static OnnxGraph readGraph(CodedInputStream in) throws IOException {
        List<Node> nodes = new ArrayList<>();
        List<Initializer> initializers = new ArrayList<>();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (isMessage(tag, 1)) {
                nodes.add(embedded(in, OnnxGraph::readNode));
            } else if (isMessage(tag, 5)) {
                Initializer t = embedded(in, OnnxGraph::readTensor);
                if (t != null) {
                    initializers.add(t);
                }
            } else {
                in.skipField(tag);
            }
        }
        return new OnnxGraph(nodes, initializers);
    }

    private static Node readNode(CodedInputStream in) throws IOException {
        String name = "";
        String opType = "";
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        Initializer firstAttributeTensor = null;
        boolean firstAttribute = true;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            switch (WireFormat.getTagFieldNumber(tag)) {
                case 1 -> inputs.add(in.readStringRequireUtf8());
                case 2 -> outputs.add(in.readStringRequireUtf8());
                case 3 -> name = in.readStringRequireUtf8();
                case 4 -> opType = in.readStringRequireUtf8();
                case 5 -> {
                    Initializer t = embedded(in, OnnxGraph::readAttributeTensor);
                    if (firstAttribute) {
                        firstAttributeTensor = t;
                        firstAttribute = false;
                    }
                }
                default -> in.skipField(tag);
            }
        }
        Float scalar = null;
        if (opType.equals("Constant") && firstAttributeTensor != null
                && firstAttributeTensor.tensor().shape().length == 0) {
            scalar = firstAttributeTensor.tensor().toFloatArray()[0];
        }
        return new Node(name, opType, List.copyOf(inputs), List.copyOf(outputs), scalar);
    }

    /** The float tensor in an attribute's {@code t} field, or null. */
    private static Initializer readAttributeTensor(CodedInputStream in) throws IOException {
        Initializer tensor = null;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (isMessage(tag, 5)) {
                tensor = embedded(in, OnnxGraph::readTensor);
            } else {
                in.skipField(tag);
            }
        }
        return tensor;
    }

    /** A TensorProto of data type FLOAT with its values inside the file; null for any other. */
    private static Initializer readTensor(CodedInputStream in) throws IOException {
        List<Long> dims = new ArrayList<>();
        int dataType = 0;
        String name = "";
        byte[] raw = null;
        List<Float> floats = new ArrayList<>();
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            int field = WireFormat.getTagFieldNumber(tag);
            int wireType = WireFormat.getTagWireType(tag);
            if (field == 1 && wireType == WireFormat.WIRETYPE_VARINT) {
                dims.add(in.readInt64());
            } else if (field == 1 && wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int limit = in.pushLimit(in.readRawVarint32());
                while (in.getBytesUntilLimit() > 0) {
                    dims.add(in.readInt64());
                }
                in.popLimit(limit);
            } else if (field == 2) {
                dataType = in.readInt32();
            } else if (field == 4 && wireType == WireFormat.WIRETYPE_FIXED32) {
                floats.add(in.readFloat());
            } else if (field == 4 && wireType == WireFormat.WIRETYPE_LENGTH_DELIMITED) {
                int limit = in.pushLimit(in.readRawVarint32());
                while (in.getBytesUntilLimit() > 0) {
                    floats.add(in.readFloat());
                }
                in.popLimit(limit);
            } else if (field == 8) {
                name = in.readStringRequireUtf8();
            } else if (field == 9) {
                raw = in.readByteArray();
            } else {
                in.skipField(tag);
            }
        }
        if (dataType != FLOAT) {
            return null;
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        if (raw != null) {
            if (raw.length != count * Float.BYTES) {
                throw new InvalidProtocolBufferException("initializer \"" + name + "\" holds " + raw.length
                        + " bytes of raw data but its shape needs " + count * Float.BYTES);
            }
            return new Initializer(name, Tensor.of(DType.F32, shape, raw));
        }
        if (floats.size() != count) {
            // values kept outside the file (external data) or missing
            throw new InvalidProtocolBufferException("initializer \"" + name + "\" holds " + floats.size()
                    + " values but its shape needs " + count + " (external data is not supported)");
        }
        float[] values = new float[floats.size()];
        for (int i = 0; i < values.length; i++) {
            values[i] = floats.get(i);
        }
        return new Initializer(name, Tensor.ofFloats(shape, values));
    }
}
