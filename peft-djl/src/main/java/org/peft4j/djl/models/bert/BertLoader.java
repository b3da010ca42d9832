package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.peft4j.api.safetensors.ModelWeights;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.models.Checkpoint;
import org.peft4j.djl.models.CheckpointWeights;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads pretrained BERT-family weights into a {@link BertModel}: from a Hugging Face model
 * directory ({@code config.json} + {@code model.safetensors}) or from an ONNX export, whose
 * anonymous MatMul weights are named by following each MatMul to the bias it is added to.
 */
public final class BertLoader {
    private static final Logger LOG = LoggerFactory.getLogger(BertLoader.class);
    /** Key prefixes that Hugging Face task models put before the encoder's own names. */
    private static final List<String> PREFIXES = List.of("bert.", "roberta.", "model.", "encoder_model.");
    private static final Pattern LAYER = Pattern.compile("encoder\\.layer\\.(\\d+)\\..*");
    private static final String POOLER_WEIGHT = "pooler.dense.weight";
    private static final String POOLER_BIAS = "pooler.dense.bias";
    /** Hugging Face's {@code initializer_range} default, the spread of a new pooler's weights. */
    private static final float INITIALIZER_RANGE = 0.02f;

    private BertLoader() {}

    /**
     * Loads a Hugging Face model directory of {@code model_type} {@code bert}: {@code config.json}
     * and {@code model.safetensors}, or the shards {@code model.safetensors.index.json} lists (see
     * {@link ModelWeights}; a PyTorch pickle is refused with how to convert it). Keys may carry the
     * usual prefixes ({@code bert.}, ...); task heads in the checkpoint are ignored.
     *
     * @throws IllegalArgumentException if a file is missing, the config lacks a field, or a tensor
     *     is missing or has a shape that disagrees with the config (the message names it)
     */
    public static BertModel fromHuggingFace(Path modelDir, NDManager manager) throws IOException {
        return fromCheckpoint(Checkpoint.read(modelDir), manager);
    }

    /** Builds the encoder from a checkpoint's config and tensors. */
    static BertModel fromCheckpoint(Checkpoint checkpoint, NDManager manager) {
        BertConfig bertConfig = BertConfig.fromJson(checkpoint.config(), checkpoint.configSource());
        Map<String, Tensor> byName = new HashMap<>();
        for (Map.Entry<String, Tensor> e : checkpoint.weights().entrySet()) {
            byName.put(stripPrefix(e.getKey()), e.getValue());
        }
        return build(bertConfig, byName, checkpoint.weightsSource(), manager);
    }

    private static String stripPrefix(String key) {
        for (String prefix : PREFIXES) {
            if (key.startsWith(prefix)) {
                return key.substring(prefix.length());
            }
        }
        return key;
    }

    /** Loads an ONNX export of a BERT-family encoder from a file (see {@link #fromOnnx(InputStream, String, NDManager)}). */
    public static BertModel fromOnnx(Path onnxFile, NDManager manager) throws IOException {
        try (InputStream in = Files.newInputStream(onnxFile)) {
            return fromOnnx(in, onnxFile.toString(), manager);
        }
    }

    /**
     * Loads an ONNX export of a BERT-family encoder (such as all-MiniLM-L6-v2's) with its
     * architecture read off the graph: sizes from the weights, the head count from the attention's
     * 1/sqrt(head size) scale, and LayerNorm's epsilon from its constant.
     *
     * @param source where the stream comes from, for messages
     * @throws IllegalArgumentException if the graph is not a BERT export
     */
    public static BertModel fromOnnx(InputStream in, String source, NDManager manager) throws IOException {
        OnnxGraph graph;
        try {
            graph = OnnxGraph.read(in);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalArgumentException(source + ": not an ONNX model: " + e.getMessage(), e);
        }
        Map<String, Tensor> tensors = new HashMap<>();
        for (OnnxGraph.Initializer t : graph.floatInitializers()) {
            tensors.put(t.name(), t.tensor());
        }
        if (!tensors.containsKey("embeddings.word_embeddings.weight")) {
            throw new IllegalArgumentException(source + ": not a BERT export: it has no initializer"
                    + " \"embeddings.word_embeddings.weight\" (its float initializers begin "
                    + new TreeSet<>(tensors.keySet()).stream().limit(8).toList() + ")");
        }
        nameMatMulWeights(graph, tensors);
        BertConfig config = configFromOnnx(graph, tensors, source);
        return build(config, tensors, source, manager);
    }

    /**
     * Names each anonymous MatMul weight [in, out] after the bias its product is added to, and
     * stores it as that layer's PyTorch weight [out, in].
     */
    private static void nameMatMulWeights(OnnxGraph graph, Map<String, Tensor> tensors) {
        Map<String, OnnxGraph.Node> consumerOf = new HashMap<>();
        for (OnnxGraph.Node node : graph.nodes()) {
            if (node.opType().equals("Add")) {
                for (String input : node.inputs()) {
                    consumerOf.put(input, node);
                }
            }
        }
        for (OnnxGraph.Node node : graph.nodes()) {
            if (!node.opType().equals("MatMul") || node.inputs().size() != 2 || node.outputs().isEmpty()) {
                continue;
            }
            Tensor weight = tensors.get(node.inputs().get(1));
            OnnxGraph.Node add = consumerOf.get(node.outputs().get(0));
            if (weight == null || add == null) {
                continue;
            }
            for (String input : add.inputs()) {
                if (input.endsWith(".bias") && tensors.containsKey(input)) {
                    String name = input.substring(0, input.length() - ".bias".length()) + ".weight";
                    tensors.put(name, CheckpointWeights.transpose(weight));
                }
            }
        }
    }

    private static BertConfig configFromOnnx(OnnxGraph graph, Map<String, Tensor> tensors, String source) {
        long[] words = require(tensors, "embeddings.word_embeddings.weight", source).shape();
        int hidden = (int) words[1];
        int layers = 0;
        for (String name : tensors.keySet()) {
            Matcher m = LAYER.matcher(name);
            if (m.matches()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        if (layers == 0) {
            throw new IllegalArgumentException(source + ": not a BERT export: no \"encoder.layer.N.*\" weights");
        }
        int intermediate = (int) require(tensors, "encoder.layer.0.intermediate.dense.bias", source).shape()[0];
        int positions = (int) require(tensors, "embeddings.position_embeddings.weight", source).shape()[0];
        int types = (int) require(tensors, "embeddings.token_type_embeddings.weight", source).shape()[0];
        Map<String, Float> constants = scalarConstants(graph);
        int heads = headCount(graph, constants, hidden, source);
        float eps = 1e-12f;
        for (OnnxGraph.Node node : graph.nodes()) {
            if (node.opType().equals("Add") && node.name().startsWith("/embeddings/LayerNorm/")) {
                for (String input : node.inputs()) {
                    if (constants.containsKey(input)) {
                        eps = constants.get(input);
                    }
                }
            }
        }
        return new BertConfig(Math.toIntExact(words[0]), hidden, layers, heads, intermediate,
                positions, types, eps, 0.1f, 0.1f);
    }

    /** The head count from the attention scores' scale: scores are divided by sqrt(head size). */
    private static int headCount(OnnxGraph graph, Map<String, Float> constants, int hidden, String source) {
        for (OnnxGraph.Node node : graph.nodes()) {
            boolean inAttention = node.name().contains("/attention/self/");
            if (inAttention && node.opType().equals("Div") && node.inputs().size() == 2
                    && constants.containsKey(node.inputs().get(1))) {
                float scale = constants.get(node.inputs().get(1));
                int headSize = Math.round(scale * scale);
                if (headSize > 0 && hidden % headSize == 0) {
                    return hidden / headSize;
                }
            }
        }
        throw new IllegalArgumentException(source + ": cannot find the attention scale (a Div by sqrt(head size) in"
                + " /attention/self/), so the number of attention heads is unknown");
    }

    private static Map<String, Float> scalarConstants(OnnxGraph graph) {
        Map<String, Float> out = new HashMap<>();
        for (OnnxGraph.Node node : graph.nodes()) {
            if (node.scalarConstant() != null && !node.outputs().isEmpty()) {
                out.put(node.outputs().get(0), node.scalarConstant());
            }
        }
        return out;
    }

    private static Tensor require(Map<String, Tensor> tensors, String name, String source) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(source + ": not a BERT export: no weight \"" + name + "\"");
        }
        return t;
    }

    /**
     * Creates the model and fills every parameter from {@code tensors}, checking names and shapes
     * first. The pooler is optional: without {@code pooler.dense.*} it starts as a new one.
     */
    private static BertModel build(BertConfig config, Map<String, Tensor> tensors, String source, NDManager manager) {
        BertModel model = new BertModel(config);
        Map<String, Parameter> parameters = StateDicts.namedParameters(model);
        boolean pretrainedPooler = tensors.containsKey(POOLER_WEIGHT) || tensors.containsKey(POOLER_BIAS);
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            if (!pretrainedPooler && e.getKey().startsWith("pooler.")) {
                continue;
            }
            Tensor t = tensors.get(e.getKey());
            long[] expected = expectedShape(e.getKey(), config);
            if (t == null) {
                problems.add("missing tensor \"" + e.getKey() + "\"");
            } else if (!Arrays.equals(t.shape(), expected)) {
                problems.add("tensor \"" + e.getKey() + "\" has shape " + Arrays.toString(t.shape())
                        + " but the config gives " + Arrays.toString(expected));
            } else if (!t.dtype().isFloatingPoint()) {
                problems.add("tensor \"" + e.getKey() + "\" has dtype " + t.dtype());
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(source + ": the checkpoint does not match its config: "
                    + String.join("; ", problems.subList(0, Math.min(problems.size(), 20)))
                    + (problems.size() > 20 ? "; ... (" + problems.size() + " problems)" : ""));
        }
        TreeSet<String> unused = new TreeSet<>(tensors.keySet());
        unused.removeAll(parameters.keySet());
        unused.removeIf(k -> k.endsWith("position_ids") || k.matches("onnx::.*"));
        if (!unused.isEmpty()) {
            LOG.info("{}: ignoring tensors the encoder does not use: {}", source, unused);
        }
        model.initialize(manager, DataType.FLOAT32, new Shape(1, 1));
        for (Map.Entry<String, Parameter> e : parameters.entrySet()) {
            if (pretrainedPooler || !e.getKey().startsWith("pooler.")) {
                e.getValue().getArray().set(tensors.get(e.getKey()).toFloatArray());
            }
        }
        if (!pretrainedPooler) {
            model.pooler().initializeFresh(manager, INITIALIZER_RANGE);
        }
        model.setPretrainedPooler(pretrainedPooler);
        return model;
    }

    /** The shape a parameter must have under {@code config}, derived from the architecture alone. */
    private static long[] expectedShape(String name, BertConfig c) {
        long h = c.hiddenSize();
        if (name.equals("embeddings.word_embeddings.weight")) {
            return new long[] {c.vocabSize(), h};
        } else if (name.equals("embeddings.position_embeddings.weight")) {
            return new long[] {c.maxPositionEmbeddings(), h};
        } else if (name.equals("embeddings.token_type_embeddings.weight")) {
            return new long[] {c.typeVocabSize(), h};
        } else if (name.endsWith("intermediate.dense.weight")) {
            return new long[] {c.intermediateSize(), h};
        } else if (name.endsWith("intermediate.dense.bias")) {
            return new long[] {c.intermediateSize()};
        } else if (name.endsWith(".output.dense.weight") && !name.contains("attention")) {
            return new long[] {h, c.intermediateSize()};
        } else if (name.endsWith(".weight") && !name.contains("LayerNorm")) {
            return new long[] {h, h};
        }
        return new long[] {h};
    }
}
