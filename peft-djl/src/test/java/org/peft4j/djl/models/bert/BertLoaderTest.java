package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.internal.TensorConversions;
import org.peft4j.djl.models.EncoderFamilies;

/** The Hugging Face directory loader, and inputs the loaders and the encoder must refuse. */
class BertLoaderTest {
    private static final String CONFIG = "{\n  \"architectures\": [\"BertModel\"],\n  \"model_type\": \"bert\",\n"
            + "  \"vocab_size\": 30522,\n  \"hidden_size\": 384,\n  \"num_hidden_layers\": 6,\n"
            + "  \"num_attention_heads\": 12,\n  \"intermediate_size\": 1536,\n  \"hidden_act\": \"gelu\",\n"
            + "  \"max_position_embeddings\": 512,\n  \"type_vocab_size\": 2,\n  \"layer_norm_eps\": 1e-12,\n"
            + "  \"hidden_dropout_prob\": 0.1,\n  \"attention_probs_dropout_prob\": 0.1\n}\n";

    private static NDManager manager;
    private static BertModel fromOnnx;

    @BeforeAll
    static void load() {
        manager = NDManager.newBaseManager();
        fromOnnx = MiniLm.load(manager);
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    /** Writes the ONNX-loaded weights as a Hugging Face BertForSequenceClassification directory would hold them. */
    private static Path writeModelDirectory(Path dir, String config, Map<String, Tensor> extra) throws Exception {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(fromOnnx).entrySet()) {
            tensors.put("bert." + e.getKey(), TensorConversions.toTensor(e.getValue().getArray()));
        }
        tensors.putAll(extra);
        Files.writeString(dir.resolve("config.json"), config, StandardCharsets.UTF_8);
        new SafeTensors(tensors, SafeTensors.PT_METADATA).write(dir.resolve("model.safetensors"));
        return dir;
    }

    @Test
    void aHuggingFaceDirectoryLoadsTheSameModelAsTheOnnxExport(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG, Map.of(
                "bert.embeddings.position_ids", Tensor.ofLongs(new long[] {1}, new long[] {0})));
        BertModel loaded = BertLoader.fromHuggingFace(dir, manager);
        assertThat(loaded.config()).isEqualTo(fromOnnx.config());
        assertThat(loaded.hasPretrainedPooler()).isTrue();
        assertThat(fromOnnx.hasPretrainedPooler()).as("the ONNX export drops the unused pooler").isFalse();
        Map<String, Parameter> expected = StateDicts.namedParameters(fromOnnx);
        Map<String, Parameter> actual = StateDicts.namedParameters(loaded);
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        for (String name : expected.keySet()) {
            // Arrays.equals, not AssertJ's element diff, which is quadratic on 11M-element tables
            assertThat(java.util.Arrays.equals(actual.get(name).getArray().toFloatArray(),
                    expected.get(name).getArray().toFloatArray())).as(name).isTrue();
        }
        try (BertTokenizer tokenizer = MiniLm.tokenizer(64)) {
            NDList in = tokenizer.encode(manager, List.of("same weights, same output", "a second sentence"));
            ParameterStore ps = new ParameterStore(manager, false);
            assertThat(loaded.encode(ps, in.get(0), in.get(1), in.get(2), false).toFloatArray())
                    .containsExactly(fromOnnx.encode(ps, in.get(0), in.get(1), in.get(2), false).toFloatArray());
        }
    }

    @Test
    void aShardedCheckpointLoadsTheSameWeights(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG, Map.of());
        Map<String, Tensor> all = SafeTensors.read(dir.resolve("model.safetensors")).tensors();
        Map<String, Tensor> first = new LinkedHashMap<>();
        Map<String, Tensor> second = new LinkedHashMap<>();
        StringBuilder weightMap = new StringBuilder();
        for (Map.Entry<String, Tensor> e : all.entrySet()) {
            boolean early = e.getKey().startsWith("bert.embeddings.") || e.getKey().contains(".layer.0.");
            (early ? first : second).put(e.getKey(), e.getValue());
            weightMap.append(weightMap.length() == 0 ? "" : ", ").append('"').append(e.getKey()).append("\": \"")
                    .append(early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors").append('"');
        }
        new SafeTensors(first, SafeTensors.PT_METADATA).write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafeTensors(second, SafeTensors.PT_METADATA).write(dir.resolve("model-00002-of-00002.safetensors"));
        Files.writeString(dir.resolve("model.safetensors.index.json"), "{\"weight_map\": {" + weightMap + "}}",
                StandardCharsets.UTF_8);
        Files.delete(dir.resolve("model.safetensors"));
        BertModel loaded = BertLoader.fromHuggingFace(dir, manager);
        Map<String, Parameter> expected = StateDicts.namedParameters(fromOnnx);
        for (Map.Entry<String, Parameter> e : StateDicts.namedParameters(loaded).entrySet()) {
            if (expected.containsKey(e.getKey())) {
                assertThat(java.util.Arrays.equals(e.getValue().getArray().toFloatArray(),
                        expected.get(e.getKey()).getArray().toFloatArray())).as(e.getKey()).isTrue();
            }
        }
        assertThat(loaded.hasPretrainedPooler()).isTrue();
    }

    @Test
    void aCheckpointWithoutPoolerWeightsGetsANewPoolerInitializedAsHuggingFaceDoes(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG, Map.of());
        Map<String, Tensor> withoutPooler = new LinkedHashMap<>(SafeTensors.read(dir.resolve("model.safetensors")).tensors());
        withoutPooler.keySet().removeIf(k -> k.startsWith("bert.pooler."));
        new SafeTensors(withoutPooler, SafeTensors.PT_METADATA).write(dir.resolve("model.safetensors"));
        BertModel loaded = BertLoader.fromHuggingFace(dir, manager);
        assertThat(loaded.hasPretrainedPooler()).isFalse();
        float[] w = loaded.pooler().dense().getParameters().get("weight").getArray().toFloatArray();
        double sumSquares = 0;
        for (float v : w) {
            sumSquares += v * v;
        }
        // _init_weights: normal(0, initializer_range = 0.02) for the weight, zeros for the bias
        assertThat(Math.sqrt(sumSquares / w.length)).isBetween(0.019, 0.021);
        assertThat(loaded.pooler().dense().getParameters().get("bias").getArray().toFloatArray()).containsOnly(0f);
    }

    @Test
    void aConfigMissingAFieldIsNamed(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG.replace("  \"num_attention_heads\": 12,\n", ""), Map.of());
        assertThatThrownBy(() -> BertLoader.fromHuggingFace(dir, manager))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("config.json: missing required key \"num_attention_heads\"");
    }

    @Test
    void shapesThatDisagreeWithTheConfigAreNamed(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"), Map.of());
        assertThatThrownBy(() -> BertLoader.fromHuggingFace(dir, manager))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("model.safetensors: the checkpoint does not match its config")
                .hasMessageContaining("tensor \"encoder.layer.0.intermediate.dense.weight\" has shape [1536, 384]"
                        + " but the config gives [1024, 384]");
    }

    @Test
    void anotherFamilyIsRefusedByTheBertLoader(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG.replace("\"model_type\": \"bert\"", "\"model_type\": \"roberta\""), Map.of());
        assertThatThrownBy(() -> BertLoader.fromHuggingFace(dir, manager))
                .hasMessageContaining("model_type \"roberta\" is not a BERT checkpoint");
    }

    @Test
    void theRegistryLoadsBertAndNamesTheSupportedTypesForAnUnknownOne(@TempDir Path dir) throws Exception {
        writeModelDirectory(dir, CONFIG, Map.of());
        assertThat(EncoderFamilies.fromHuggingFace(dir, manager)).isInstanceOf(BertModel.class);
        writeModelDirectory(dir, CONFIG.replace("\"model_type\": \"bert\"", "\"model_type\": \"gpt_neo\""), Map.of());
        assertThatThrownBy(() -> EncoderFamilies.fromHuggingFace(dir, manager))
                .hasMessageContaining("model_type \"gpt_neo\" is not a supported encoder; supported: bert");
    }

    @Test
    void aMissingDirectoryFileIsNamed(@TempDir Path dir) {
        assertThatThrownBy(() -> BertLoader.fromHuggingFace(dir, manager))
                .hasMessageContaining("config.json does not exist");
    }

    @Test
    void anOnnxFileThatIsNotABertExportIsRefused() {
        // a valid ONNX model (one Identity node) that holds no BERT weights
        ai.onnx.proto.OnnxMl.ModelProto identity = ai.onnx.proto.OnnxMl.ModelProto.newBuilder()
                .setGraph(ai.onnx.proto.OnnxMl.GraphProto.newBuilder()
                        .addNode(ai.onnx.proto.OnnxMl.NodeProto.newBuilder().setOpType("Identity").addInput("x").addOutput("y"))
                        .addInitializer(ai.onnx.proto.OnnxMl.TensorProto.newBuilder().setName("w").addDims(1)
                                .setDataType(1).addFloatData(1f)))
                .build();
        assertThatThrownBy(() -> BertLoader.fromOnnx(new ByteArrayInputStream(identity.toByteArray()), "identity.onnx", manager))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("identity.onnx: not a BERT export: it has no initializer \"embeddings.word_embeddings.weight\"");
        assertThatThrownBy(() -> BertLoader.fromOnnx(new ByteArrayInputStream(new byte[] {1, 2, 3, 4, 5}), "junk.onnx", manager))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("junk.onnx");
    }

    @Test
    void aSequenceLongerThanThePositionTableIsRefused() {
        long[] ids = new long[513];
        java.util.Arrays.fill(ids, 1000);
        ids[0] = 101;
        assertThatThrownBy(() -> fromOnnx.encode(new ParameterStore(manager, false),
                        manager.create(ids, new ai.djl.ndarray.types.Shape(1, 513)), null, null, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("a sequence of 513 tokens is longer than the position table (512 positions)");
    }
}
