package org.peft4j.djl;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.SafeTensors;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.lora.LoraLinear;

/** Saving and loading adapters in Hugging Face PEFT's layout, and loads that must fail cleanly. */
class LoraSaveLoadTest {
    @TempDir
    Path dir;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(5);
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    /** The base values of the last model {@link #adapted} made, before its adapter was attached. */
    private final Map<String, float[]> baseValues = new java.util.HashMap<>();

    /** A new base model holding the base values {@link #adapted} started from. */
    private TestBlocks.TwoTower twin(int hidden) {
        TestBlocks.TwoTower copy = new TestBlocks.TwoTower(hidden, 4);
        copy.initialize(manager, DataType.FLOAT32, new Shape(3, 10));
        for (ai.djl.util.Pair<String, Parameter> p : copy.getParameters()) {
            p.getValue().getArray().set(baseValues.get(p.getKey()));
        }
        return copy;
    }

    /** The adapted model {@link #adapted} made last. */
    private PeftModel lastPeft;

    private TestBlocks.TwoTower adapted(Path out) throws IOException {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(16, 4);
        block.initialize(manager, DataType.FLOAT32, new Shape(3, 10));
        block.getParameters().forEach(p -> baseValues.put(p.getKey(), p.getValue().getArray().toFloatArray()));
        PeftModel peft = Peft.apply(block, LoraConfig.builder().optR(4).optLoraAlpha(8).optInitLoraWeights(LoraInit.RANDOM)
                .setTargetModules("query", "value").optModulesToSave("output").build());
        // as if training had changed the module to save
        NDArray head = block.getChildren().get("03output").getParameters().get("weight").getArray();
        head.set(manager.randomNormal(head.getShape()).toFloatArray());
        peft.saveAdapter(out);
        lastPeft = peft;
        return block;
    }

    @Test
    void anAdapterWithNonFiniteWeightsIsNeverSavedAndTheLastSaveStands() throws IOException {
        Path out = dir.resolve("adapter");
        TestBlocks.TwoTower block = adapted(out);
        AdapterCheckpoint saved = AdapterCheckpoint.load(out);
        // a diverged update: one weight of the module to save becomes NaN
        NDArray head = block.getChildren().get("03output").getParameters().get("weight").getArray();
        head.set(new ai.djl.ndarray.index.NDIndex(0, 1), Float.NaN);
        assertThatThrownBy(() -> lastPeft.saveAdapter(out))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor \"base_model.model.output.weight\" holds NaN or an infinity at element 1");
        assertThat(AdapterCheckpoint.load(out)).isEqualTo(saved);
    }

    @Test
    void saveThenLoadReproducesTheOutputsExactly() throws IOException {
        Path out = dir.resolve("adapter");
        TestBlocks.TwoTower trained = adapted(out);
        NDArray x = manager.randomNormal(new Shape(3, 10));
        float[] expected = TestBlocks.forward(trained, x).toFloatArray();

        TestBlocks.TwoTower base = twin(16);
        PeftModel loaded = Peft.load(base, out);
        assertThat(TestBlocks.forward(base, x).toFloatArray()).containsExactly(expected);
        assertThat(loaded.adapter("default").config()).isInstanceOf(LoraConfig.class);
        assertThat(((LoraConfig) loaded.adapter("default").config()).inferenceMode()).isTrue();

        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString()).collect(Collectors.toList()))
                    .containsExactlyInAnyOrder("adapter_config.json", "adapter_model.safetensors");
        }
        String json = Files.readString(out.resolve("adapter_config.json"), StandardCharsets.UTF_8);
        assertThat(json).contains("\"peft_type\" : \"LORA\"", "\"r\" : 4", "\"lora_alpha\" : 8",
                "\"target_modules\" : [ \"query\", \"value\" ]", "\"modules_to_save\" : [ \"output\" ]");
        SafeTensors st = SafeTensors.read(out.resolve("adapter_model.safetensors"));
        assertThat(st.metadata()).containsEntry("format", "pt");
        assertThat(st.tensors().keySet()).containsExactly(
                "base_model.model.output.bias", "base_model.model.output.weight",
                "base_model.model.query.lora_A.weight", "base_model.model.query.lora_B.weight",
                "base_model.model.value.lora_A.weight", "base_model.model.value.lora_B.weight");
        assertThat(st.tensors().get("base_model.model.query.lora_A.weight").shape()).containsExactly(4, 10);
        assertThat(st.tensors().get("base_model.model.query.lora_B.weight").shape()).containsExactly(16, 4);
    }

    /** Returns every parameter's values and the block class at every path, to prove nothing changed. */
    private static Map<String, String> fingerprint(Block block) {
        Map<String, String> out = new java.util.TreeMap<>();
        ModuleTree.modules(block).forEach((path, b) -> out.put(path, b.getClass().getName()));
        block.getParameters().forEach(p -> out.put(p.getKey(), Arrays.toString(p.getValue().getArray().toFloatArray())));
        return out;
    }

    @Test
    void shapesThatDoNotFitFailNamingModuleAndShapesAndLeaveTheModelAsItWas() throws IOException {
        Path out = dir.resolve("adapter");
        adapted(out);
        TestBlocks.TwoTower narrower = new TestBlocks.TwoTower(12, 4); // hidden 12, not 16
        narrower.initialize(manager, DataType.FLOAT32, new Shape(3, 10));
        Map<String, String> before = fingerprint(narrower);
        assertThatThrownBy(() -> Peft.load(narrower, out))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("module query")
                .hasMessageContaining("expected shape [12, 4], found [16, 4]")
                .hasMessageContaining("module output");
        assertThat(fingerprint(narrower)).isEqualTo(before);
        assertThat(narrower.queryField()).isNotInstanceOf(LoraLinear.class);
    }

    @Test
    void missingAndUnexpectedTensorsAreNamed() throws IOException {
        Path out = dir.resolve("adapter");
        adapted(out);
        AdapterCheckpoint checkpoint = AdapterCheckpoint.load(out);
        Map<String, Tensor> tensors = new java.util.HashMap<>(checkpoint.tensors());
        tensors.remove("base_model.model.value.lora_B.weight");
        tensors.put("base_model.model.decoder.lora_A.weight", Tensor.ofFloats(new long[] {1}, new float[] {1}));
        Path broken = dir.resolve("broken");
        new AdapterCheckpoint(checkpoint.config(), tensors).save(broken);

        TestBlocks.TwoTower base = twin(16);
        Map<String, String> before = fingerprint(base);
        assertThatThrownBy(() -> Peft.load(base, broken))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("module value: the adapter has no tensor \"base_model.model.value.lora_B.weight\"")
                .hasMessageContaining("base_model.model.decoder.lora_A.weight");
        assertThat(fingerprint(base)).isEqualTo(before);
    }

    @Test
    void aCorruptOrTruncatedWeightsFileFailsAndLeavesTheModelAsItWas() throws IOException {
        Path out = dir.resolve("adapter");
        adapted(out);
        Path weights = out.resolve("adapter_model.safetensors");
        byte[] bytes = Files.readAllBytes(weights);
        TestBlocks.TwoTower base = twin(16);
        Map<String, String> before = fingerprint(base);

        Files.write(weights, Arrays.copyOf(bytes, bytes.length - 10));
        assertThatThrownBy(() -> Peft.load(base, out))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("adapter_model.safetensors")
                .hasMessageContaining("out of range");
        Files.write(weights, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Peft.load(base, out)).hasMessageContaining("truncated");
        assertThat(fingerprint(base)).isEqualTo(before);
        Files.delete(weights);
        assertThatThrownBy(() -> Peft.load(base, out))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining("adapter_model.safetensors does not exist");
    }

    @Test
    void aTargetThatMatchesNothingListsTheModulesThatExist() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 2);
        block.initialize(manager, DataType.FLOAT32, new Shape(1, 5));
        Map<String, String> before = fingerprint(block);
        assertThatThrownBy(() -> Peft.apply(block, LoraConfig.builder().setTargetModules("q_proj", "v_proj").build()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("[q_proj, v_proj] matched no Linear layer")
                .hasMessageContaining("query (Linear), value (Linear), output (Linear)");
        assertThatThrownBy(() -> Peft.apply(block, LoraConfig.builder().setTargetModules("query").optModulesToSave("head").build()))
                .hasMessageContaining("modules_to_save entry \"head\" matched no module");
        assertThat(fingerprint(block)).isEqualTo(before);
    }

    @Test
    void aNonLinearTargetAndAnUninitializedModelAreRefused() {
        TestBlocks.TwoTower block = new TestBlocks.TwoTower(8, 2);
        ai.djl.nn.SequentialBlock root = new ai.djl.nn.SequentialBlock().add(block);
        assertThatThrownBy(() -> Peft.apply(root, LoraConfig.builder().setTargetModules("query").build()))
                .hasMessageContaining("module 0.query (Linear) is not initialized");
        assertThat(block.queryField().getClass()).isEqualTo(Linear.class);
        root.initialize(manager, DataType.FLOAT32, new Shape(1, 5));
        assertThatThrownBy(() -> Peft.apply(root, LoraConfig.builder().setTargetModules("0").build()))
                .hasMessageContaining("not Linear layers")
                .hasMessageContaining("0 (TwoTower)");
    }

    @Test
    void savingReplacesFilesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path out = dir.resolve("adapter");
        adapted(out);
        byte[] first = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        adapted(out); // a second save over the first, with other random values
        byte[] second = Files.readAllBytes(out.resolve("adapter_model.safetensors"));
        assertThat(second).isNotEqualTo(first);
        assertThat(SafeTensors.parse(second).tensors()).hasSize(6);
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.endsWith(".tmp"));
        }
    }
}
