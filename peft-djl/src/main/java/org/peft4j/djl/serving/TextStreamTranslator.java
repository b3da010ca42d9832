package org.peft4j.djl.serving;

import ai.djl.inference.streaming.StreamingTranslator;
import ai.djl.ndarray.NDList;
import ai.djl.translate.TranslatorContext;
import java.util.stream.Stream;
import org.peft4j.djl.generation.GenerationTokenizer;
import org.peft4j.djl.generation.TokenListener;

/**
 * A prompt to a {@link TextStream} of the text the model continues it with. {@code predict} and
 * {@code batchPredict} give complete streams; {@code streamingPredict} gives DJL's asynchronous
 * output ({@link Support#ASYNC}): {@code getAsyncOutput()} returns an empty stream and
 * {@code computeAsyncOutput()} generates into it, each token's text added as the token is chosen.
 * DJL's iterative mode, where the reader's pull computes the next part, is not offered: the
 * {@code Generator} drives its loop and reports each token, so a pull would need a thread of its
 * own per prompt.
 */
final class TextStreamTranslator extends PromptTranslator<TextStream> implements StreamingTranslator<String, TextStream> {
    TextStreamTranslator(GenerationTokenizer tokenizer, ChatPrompts chat) {
        super(tokenizer, chat);
    }

    @Override
    public TextStream processOutput(TranslatorContext ctx, NDList list) {
        TextStream text = new TextStream();
        TokenListener streamer = tokenizer().streamer(text::add);
        for (long token : generated(list)) {
            streamer.onToken(0, token);
        }
        text.end();
        return text;
    }

    @Override
    public Support getSupport() {
        return Support.ASYNC;
    }

    @Override
    public StreamOutput<TextStream> processStreamOutput(TranslatorContext ctx, Stream<NDList> tokens) {
        return new StreamOutput<>() {
            @Override
            protected TextStream buildAsyncOutput() {
                return new TextStream();
            }

            @Override
            protected void computeAsyncOutputInternal(TextStream text) {
                TokenListener streamer = tokenizer().streamer(text::add);
                try (tokens) {
                    tokens.forEach(token -> streamer.onToken(0, token.singletonOrThrow().getLong()));
                    text.end();
                } catch (RuntimeException e) {
                    text.fail(e);
                    throw e;
                }
            }

            @Override
            public TextStream getIterativeOutputInternal() {
                throw new UnsupportedOperationException("generated text streams asynchronously: call getAsyncOutput(),"
                        + " then computeAsyncOutput() (on another thread to read the text while it grows)");
            }
        };
    }
}
