package org.peft4j.djl.models;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.core.Linear;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import org.peft4j.djl.TaskModel;

/**
 * A sequence classifier of any encoder family, as transformers' {@code *ForSequenceClassification}
 * classes are: the encoder under its Hugging Face name ({@code bert}, {@code roberta},
 * {@code distilbert}) and the family's head under its names ({@code classifier}, ...), so that
 * adapter keys and {@code modules_to_save} are Python's. Input: {@code input_ids}, then optionally
 * {@code attention_mask} and {@code token_type_ids}, each [B, T]. Output: logits [B, labels]. The
 * family makes one ({@link EncoderFamily#sequenceClassifier}).
 */
public interface TextClassifier extends TaskModel, Block {
    /** The head name meaning the family's own Hugging Face head, what Python computes. */
    String HUGGING_FACE_HEAD = "pooler";
    /** The safetensors metadata key that records the head an adapter was trained with. */
    String HEAD_METADATA = "peft4j_head";

    /** Returns the encoder. */
    TextEncoder encoder();

    /** Returns the number of outputs; one makes a regressor, as {@code num_labels=1} does. */
    int numLabels();

    /** Returns the name of the head, {@value #HUGGING_FACE_HEAD} for the family's Hugging Face head. */
    String headName();

    /** Returns the transformers class this classifier computes, as {@code architectures} names it. */
    String architecture();

    /** Returns the encoder's module path, such as {@code roberta}. */
    String encoderPath();

    /** Returns the module paths of the head (trained whole by freeze tuning), such as {@code classifier}. */
    List<String> headPaths();

    /** Returns the module path of the encoder's layer {@code layer}, such as {@code roberta.encoder.layer.0}. */
    String layerPath(int layer);

    /**
     * Returns the longest input, in tokens, the encoder's position table holds (virtual tokens
     * included): {@code max_position_embeddings}, less RoBERTa's {@code pad_token_id + 1} offset.
     */
    int maxTokens();

    /** Returns the number of encoder layers. */
    default int numLayers() {
        return encoder().numLayers();
    }

    /**
     * Returns the {@code config.json} that describes this classifier to transformers, without
     * labels: {@code architectures}, {@code model_type} and every key the family reads.
     */
    ObjectNode huggingFaceConfig();

    /**
     * Initializes a new head layer as transformers' {@code _init_weights} does a new
     * {@code nn.Linear}: weights from N(0, {@code initializer_range}), biases 0.
     *
     * @param inputs the layer's input width
     */
    static void initializeLinear(Linear linear, int inputs, float initializerRange, NDManager manager) {
        linear.initialize(manager, DataType.FLOAT32, new Shape(1, inputs));
        NDArray weight = linear.getParameters().get("weight").getArray();
        weight.set(manager.randomNormal(0, initializerRange, weight.getShape(), DataType.FLOAT32).toFloatArray());
        NDArray bias = linear.getParameters().get("bias").getArray();
        bias.set(new float[(int) bias.size()]);
    }
}
