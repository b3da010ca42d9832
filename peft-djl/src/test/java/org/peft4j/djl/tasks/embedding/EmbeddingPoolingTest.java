package org.peft4j.djl.tasks.embedding;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.djl.models.bert.Pooling;

/** The pooling a sentence-transformers directory asks for, and the pooling itself. */
class EmbeddingPoolingTest {
    @TempDir
    Path dir;

    private static final String TRANSFORMER = "{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"}";
    private static final String POOLING = "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Pooling\"}";
    private static final String NORMALIZE = "{\"idx\":2,\"name\":\"2\",\"path\":\"2_Normalize\",\"type\":\"sentence_transformers.models.Normalize\"}";

    private void write(String modules, String poolingConfig) throws Exception {
        Files.writeString(dir.resolve("modules.json"), "[" + modules + "]");
        Files.createDirectories(dir.resolve("1_Pooling"));
        Files.writeString(dir.resolve("1_Pooling/config.json"), poolingConfig);
    }

    @Test
    void bgeStyleDirectoriesPoolClsAndNormalize() throws Exception {
        write(TRANSFORMER + "," + POOLING + "," + NORMALIZE, "{\"word_embedding_dimension\": 384,"
                + " \"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": false,"
                + " \"pooling_mode_max_tokens\": false, \"pooling_mode_mean_sqrt_len_tokens\": false}");
        assertThat(EmbeddingPooling.fromSentenceTransformers(dir)).isEqualTo(EmbeddingPooling.CLS_NORMALIZED);
    }

    @Test
    void meanPoolingWithoutNormalizeAndThePoolingModeKey() throws Exception {
        write(TRANSFORMER + "," + POOLING, "{\"pooling_mode_cls_token\": false, \"pooling_mode_mean_tokens\": true}");
        assertThat(EmbeddingPooling.fromSentenceTransformers(dir)).isEqualTo(new EmbeddingPooling(Pooling.MEAN, false));
        write(TRANSFORMER + "," + POOLING + "," + NORMALIZE, "{\"pooling_mode\": \"mean\"}");
        assertThat(EmbeddingPooling.fromSentenceTransformers(dir)).isEqualTo(EmbeddingPooling.MEAN_NORMALIZED);
    }

    @Test
    void aPlainTransformersDirectoryIsMeanPooledAsSentenceTransformersDoes() throws Exception {
        assertThat(EmbeddingPooling.fromSentenceTransformers(dir)).isEqualTo(EmbeddingPooling.MEAN);
    }

    @Test
    void unsupportedModesAndModulesNameTheFile() throws Exception {
        write(TRANSFORMER + "," + POOLING, "{\"pooling_mode_cls_token\": true, \"pooling_mode_max_tokens\": true}");
        assertThatThrownBy(() -> EmbeddingPooling.fromSentenceTransformers(dir))
                .hasMessageContaining("1_Pooling" + dir.getFileSystem().getSeparator() + "config.json")
                .hasMessageContaining("[pooling_mode_cls_token, pooling_mode_max_tokens]");
        write(TRANSFORMER + "," + POOLING.replace("models.Pooling", "models.Dense"), "{}");
        assertThatThrownBy(() -> EmbeddingPooling.fromSentenceTransformers(dir))
                .hasMessageContaining("modules.json").hasMessageContaining("sentence_transformers.models.Dense");
        write(TRANSFORMER, "{}");
        assertThatThrownBy(() -> EmbeddingPooling.fromSentenceTransformers(dir)).hasMessageContaining("no "
                + "sentence_transformers.models.Pooling module");
    }

    @Test
    void poolingUnderTheMaskThenUnitLength() {
        try (NDManager manager = NDManager.newBaseManager()) {
            // one sequence of three tokens, the last one padding: [1, 3, 2]
            NDArray hidden = manager.create(new float[] {3, 0, 1, 4, 100, 100}, new Shape(1, 3, 2));
            NDArray mask = manager.create(new long[] {1, 1, 0}, new Shape(1, 3));
            float[] mean = EmbeddingPooling.MEAN_NORMALIZED.apply(hidden, mask).toFloatArray();
            // mean of (3, 0) and (1, 4) = (2, 2), unit length (0.7071, 0.7071)
            assertThat(mean[0]).isCloseTo((float) Math.sqrt(0.5), within(1e-6f));
            assertThat(mean[1]).isCloseTo((float) Math.sqrt(0.5), within(1e-6f));
            float[] cls = EmbeddingPooling.CLS_NORMALIZED.apply(hidden, mask).toFloatArray();
            assertThat(cls).containsExactly(new float[] {1f, 0f}, within(1e-6f));
            float[] raw = EmbeddingPooling.MEAN.apply(hidden, mask).toFloatArray();
            assertThat(raw).containsExactly(new float[] {2f, 2f}, within(1e-6f));
            assertThat(EmbeddingPooling.CLS_NORMALIZED.recordedName()).isEqualTo("cls+normalize");
            assertThat(EmbeddingPooling.MEAN.recordedName()).isEqualTo("mean");
        }
    }
}
