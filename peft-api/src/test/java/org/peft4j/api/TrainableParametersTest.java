package org.peft4j.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class TrainableParametersTest {
    @Test
    void readsLikeHuggingFacePeft() {
        assertThat(new TrainableParameters(74_498, 22_640_642))
                .hasToString("trainable params: 74,498 || all params: 22,640,642 || trainable%: 0.3290");
        assertThat(new TrainableParameters(0, 0)).hasToString("trainable params: 0 || all params: 0 || trainable%: 0.0000");
        assertThatThrownBy(() -> new TrainableParameters(5, 4)).isInstanceOf(IllegalArgumentException.class);
    }
}
