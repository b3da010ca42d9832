package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The golden files src/test/python/make_golden.py made with Python's transformers and PEFT: a tiny
 * random BertForSequenceClassification, adapters saved by PEFT, and {@code golden.json} (the inputs,
 * the logits, the library versions).
 */
final class GoldenFiles {
    static final Path DIR = Path.of("src", "test", "resources", "golden", "bert-seq-cls");
    static final Path BASE = DIR.resolve("tiny-bert");
    private static JsonNode json;

    private GoldenFiles() {}

    /** golden.json. */
    static synchronized JsonNode json() {
        if (json == null) {
            try {
                json = new ObjectMapper().readTree(DIR.resolve("golden.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return json;
    }

    /** The golden inputs as the classifier takes them: input_ids, attention_mask, token_type_ids. */
    static NDList inputs(NDManager manager) {
        JsonNode in = json().get("inputs");
        return new NDList(matrix(manager, in.get("input_ids")), matrix(manager, in.get("attention_mask")),
                matrix(manager, in.get("token_type_ids")));
    }

    private static NDArray matrix(NDManager manager, JsonNode rows) {
        int cols = rows.get(0).size();
        long[] flat = new long[rows.size() * cols];
        for (int r = 0; r < rows.size(); r++) {
            for (int c = 0; c < cols; c++) {
                flat[r * cols + c] = rows.get(r).get(c).asLong();
            }
        }
        return manager.create(flat, new Shape(rows.size(), cols));
    }

    /** The logits of {@code classifier} on {@code inputs}, in inference mode, flattened. */
    static float[] logits(Block classifier, NDList inputs) {
        return classifier.forward(new ParameterStore(inputs.head().getManager(), false), inputs, false)
                .singletonOrThrow().toFloatArray();
    }

    /** The largest difference between {@code actual} and a JSON array of rows of numbers. */
    static double maxAbsDiff(float[] actual, JsonNode expected) {
        List<Double> flat = new ArrayList<>();
        expected.forEach(row -> row.forEach(v -> flat.add(v.asDouble())));
        assertThat(actual).hasSize(flat.size());
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            max = Math.max(max, Math.abs(actual[i] - flat.get(i)));
        }
        return max;
    }
}
