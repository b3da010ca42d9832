package org.peft4j.djl.models.bert;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.Test;

class PoolingTest {
    @Test
    void clsTakesTheFirstTokenAndMeanAveragesTheRealTokensOnly() {
        try (NDManager manager = NDManager.newBaseManager()) {
            // two sequences of three tokens, width 2; the second has one padded position
            float[] values = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 500, 600};
            NDArray hidden = manager.create(values, new Shape(2, 3, 2));
            NDArray mask = manager.create(new long[] {1, 1, 1, 1, 1, 0}, new Shape(2, 3));
            assertThat(Pooling.CLS.pool(hidden, mask).toFloatArray()).containsExactly(1, 2, 10, 20);
            assertThat(Pooling.MEAN.pool(hidden, mask).toFloatArray())
                    .containsExactly((1 + 3 + 5) / 3f, (2 + 4 + 6) / 3f, (10 + 30) / 2f, (20 + 40) / 2f);
            assertThat(Pooling.MEAN.pool(hidden, null).toFloatArray()[2]).isEqualTo((10 + 30 + 500) / 3f);
        }
    }
}
