package org.peft4j.djl.serving;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The text a prompt continues with, in pieces as the tokens are generated: what
 * {@code Predictor<String, TextStream>} gives. From {@code predict} it comes complete; from DJL's
 * {@code streamingPredict} it fills while generation runs ({@code StreamOutput.getAsyncOutput()}
 * returns it empty, {@code computeAsyncOutput()} generates into it), and any number of threads
 * may read it meanwhile: iteration waits for each next piece and ends when generation ends.
 * Each piece is the text one token adds (a token that ends in an incomplete character is held
 * back until the next completes it), so the pieces add up to the text {@code Predictor<String, String>}
 * returns.
 */
public final class TextStream implements Iterable<String> {
    private final List<String> pieces = new ArrayList<>();
    private boolean ended;
    private RuntimeException failure;

    /** An empty stream, filled by generation. */
    TextStream() {}

    /** Adds the next piece. */
    synchronized void add(String piece) {
        if (ended) {
            throw new IllegalStateException("the text stream has ended");
        }
        pieces.add(piece);
        notifyAll();
    }

    /** Ends the stream: readers see no more pieces. */
    synchronized void end() {
        ended = true;
        notifyAll();
    }

    /** Ends the stream with the error that stopped generation: readers get it after the pieces before it. */
    synchronized void fail(RuntimeException error) {
        failure = error;
        end();
    }

    /** Returns whether generation has ended (normally or not). */
    public synchronized boolean isEnded() {
        return ended;
    }

    /**
     * Waits for generation to end and returns the whole text.
     *
     * @throws IllegalStateException if waiting was interrupted
     * @throws RuntimeException the error that stopped generation
     */
    public String text() {
        StringBuilder text = new StringBuilder();
        forEach(text::append);
        return text.toString();
    }

    /**
     * Returns an iterator over the pieces from the first, which waits for each next piece until
     * generation ends; {@code hasNext} throws the error that stopped generation once the pieces
     * before it are read, and {@link IllegalStateException} if waiting is interrupted.
     */
    @Override
    public Iterator<String> iterator() {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                synchronized (TextStream.this) {
                    while (next >= pieces.size() && !ended) {
                        try {
                            TextStream.this.wait();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            throw new IllegalStateException("interrupted while waiting for generated text", e);
                        }
                    }
                    if (next < pieces.size()) {
                        return true;
                    }
                    if (failure != null) {
                        throw failure;
                    }
                    return false;
                }
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new NoSuchElementException("generation has ended");
                }
                synchronized (TextStream.this) {
                    return pieces.get(next++);
                }
            }
        };
    }
}
