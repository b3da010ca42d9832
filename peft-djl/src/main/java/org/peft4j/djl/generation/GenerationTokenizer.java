package org.peft4j.djl.generation;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Consumer;

/**
 * Text to token ids and back for generation, through a model directory's {@code tokenizer.json}
 * and DJL's {@link HuggingFaceTokenizer} (the Rust {@code tokenizers} library transformers' fast
 * tokenizers use). Encoding adds exactly what the file's post-processor adds (transformers'
 * {@code add_special_tokens=True} default: LLaMA's adds {@code <s>}, a bare WordLevel one nothing),
 * without padding or truncation; decoding skips special tokens ({@code skip_special_tokens=True}).
 * Close it to free the native tokenizer.
 */
public final class GenerationTokenizer implements AutoCloseable {
    /** The file a Hugging Face model directory keeps its fast tokenizer in. */
    public static final String FILE_NAME = "tokenizer.json";

    private final HuggingFaceTokenizer tokenizer;

    private GenerationTokenizer(HuggingFaceTokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * Loads {@code modelDir/tokenizer.json}.
     *
     * @throws IllegalArgumentException if the directory has no {@code tokenizer.json}
     * @throws IOException if it cannot be read
     */
    public static GenerationTokenizer fromModelDirectory(Path modelDir) throws IOException {
        Path file = modelDir.resolve(FILE_NAME);
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(modelDir + ": no " + FILE_NAME + " (a Hugging Face fast tokenizer)"
                    + " to turn text into token ids");
        }
        return new GenerationTokenizer(HuggingFaceTokenizer.newInstance(file,
                Map.of("padding", "false", "truncation", "false", "addSpecialTokens", "true")));
    }

    /** Returns the token ids of {@code text}, with the special tokens the tokenizer's post-processor adds. */
    public long[] encode(String text) {
        return tokenizer.encode(text).getIds();
    }

    /**
     * Returns the token ids of {@code text} alone, without the special tokens the post-processor
     * would add (transformers' {@code add_special_tokens=False}); special tokens written in the text,
     * such as {@code <|im_end|>}, are still read as their ids. This is how LLaMA-Factory and
     * {@link org.peft4j.djl.sft.SftEncoder} tokenize the pieces of a rendered conversation.
     */
    public long[] encodeWithoutSpecialTokens(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    /**
     * Returns the id of {@code token} if the tokenizer has it as one token (such as a chat
     * template's stop word {@code <|im_end|>}), else empty; a word read as the unknown token is not
     * one of the vocabulary's.
     */
    public OptionalLong tokenId(String token) {
        long[] ids = encodeWithoutSpecialTokens(token);
        return ids.length == 1 && decode(ids, false).equals(token) ? OptionalLong.of(ids[0]) : OptionalLong.empty();
    }

    /**
     * Returns the ids of those of {@code tokens} the tokenizer has as one token each ({@link #tokenId}),
     * in order, such as the stop words that end an answer; the others are left out.
     */
    public List<Long> tokenIds(List<String> tokens) {
        List<Long> ids = new ArrayList<>();
        for (String token : tokens) {
            tokenId(token).ifPresent(ids::add);
        }
        return ids;
    }

    /** Returns the token ids of each text, not padded ({@link Generator} pads on the left). */
    public List<long[]> encode(List<String> texts) {
        List<long[]> ids = new ArrayList<>(texts.size());
        for (String text : texts) {
            ids.add(encode(text));
        }
        return ids;
    }

    /** Returns the text of {@code ids}, special tokens (end-of-sequence, padding, ...) left out. */
    public String decode(long[] ids) {
        return decode(ids, true);
    }

    /** Returns the text of {@code ids}, with their special tokens unless {@code skipSpecialTokens}. */
    public String decode(long[] ids, boolean skipSpecialTokens) {
        return tokenizer.decode(ids, skipSpecialTokens);
    }

    /**
     * Returns a listener that turns row 0's tokens into text as they come and hands each new piece
     * of text to {@code onText} (as transformers' {@code TextStreamer}): it decodes the tokens so far
     * and passes on what extends the text already passed on, holding back text that ends in an
     * incomplete character (U+FFFD) until the next token completes it.
     */
    public TokenListener streamer(Consumer<String> onText) {
        return new TokenListener() {
            private final List<Long> tokens = new ArrayList<>();
            private String sent = "";

            @Override
            public void onToken(int row, long tokenId) {
                if (row != 0) {
                    return;
                }
                tokens.add(tokenId);
                String text = decode(tokens.stream().mapToLong(Long::longValue).toArray());
                if (text.length() > sent.length() && text.startsWith(sent) && !text.endsWith("\uFFFD")) {
                    onText.accept(text.substring(sent.length()));
                    sent = text;
                }
            }
        };
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
