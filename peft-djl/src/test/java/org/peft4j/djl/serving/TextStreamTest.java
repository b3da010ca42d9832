package org.peft4j.djl.serving;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/** The stream of generated text between a generating thread and its readers. */
class TextStreamTest {
    @Test
    void readersWaitForEachPieceAndSeeEveryPieceInOrderUntilTheEnd() throws Exception {
        TextStream text = new TextStream();
        CountDownLatch firstRead = new CountDownLatch(1);
        Thread writer = new Thread(() -> {
            text.add("the");
            try {
                firstRead.await(); // the reader has taken a piece before the rest exist
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            text.add(" cat");
            text.add(" sat");
            text.end();
        });
        writer.start();
        List<String> pieces = new ArrayList<>();
        for (String piece : text) {
            pieces.add(piece);
            firstRead.countDown();
        }
        writer.join();
        assertThat(pieces).containsExactly("the", " cat", " sat");
        // a second reader sees the same pieces, and the whole text
        assertThat(text).containsExactly("the", " cat", " sat");
        assertThat(text.text()).isEqualTo("the cat sat");
        assertThat(text.isEnded()).isTrue();
        assertThatThrownBy(() -> text.add("more")).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void anErrorThatStopsGenerationReachesReadersAfterThePiecesBeforeIt() {
        TextStream text = new TextStream();
        text.add("the");
        text.fail(new IllegalArgumentException("prompt 0 holds token id 99"));
        Iterator<String> reader = text.iterator();
        assertThat(reader.next()).isEqualTo("the");
        assertThatThrownBy(reader::hasNext).hasMessage("prompt 0 holds token id 99");
        assertThatThrownBy(text::text).isInstanceOf(IllegalArgumentException.class);
    }
}
