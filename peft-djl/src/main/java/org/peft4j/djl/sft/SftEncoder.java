package org.peft4j.djl.sft;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.peft4j.api.data.chat.Conversation;
import org.peft4j.djl.chat.ChatTemplate;

/**
 * Turns conversations into {@link SftExample}s as LLaMA-Factory's supervised processor does
 * ({@code data/processor/supervised.py}, {@code stage: sft}), with the model's own chat template:
 * each turn is split into its prompt (what the template prints up to and including the opening of
 * the assistant's answer) and its response (the answer and whatever the template closes it with,
 * such as an end-of-turn token), each tokenized without special tokens; the prompts' labels are
 * ignored unless {@code train_on_prompt}; turns are cut to {@code cutoff_len} by LLaMA-Factory's
 * {@code infer_seqlen} ({@code data/processor/processor_utils.py}), which keeps answers whole where
 * it can.
 *
 * <p>The template must print a conversation as the printing of its earlier turns followed by the
 * new one (most do); one that rewrites earlier turns is refused with the turn it breaks at.
 */
public final class SftEncoder {
    private final ChatTemplate template;
    private final Function<String, long[]> tokenizer;
    private final int cutoffLen;
    private final boolean trainOnPrompt;

    private SftEncoder(Builder builder) {
        template = Objects.requireNonNull(builder.template, "setTemplate is required");
        tokenizer = Objects.requireNonNull(builder.tokenizer, "setTokenizer is required");
        cutoffLen = builder.cutoffLen;
        trainOnPrompt = builder.trainOnPrompt;
    }

    /** Returns a builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** Returns the longest example, in tokens ({@code cutoff_len}). */
    public int cutoffLen() {
        return cutoffLen;
    }

    /**
     * Encodes one conversation.
     *
     * @param where the row's place, for messages
     * @throws IllegalArgumentException if the conversation has no answer, the template fails or
     *     does not print turns as prefixes, or the first prompt alone leaves no room for its answer
     */
    public SftExample encode(Conversation conversation, String where) {
        if (!conversation.hasResponse()) {
            throw new IllegalArgumentException(where + ": the conversation ends without an answer to learn");
        }
        List<long[][]> turns = new ArrayList<>();
        String printed = "";
        for (int answer = 1; answer < conversation.messages().size(); answer += 2) {
            String prompt = render(conversation.prefix(answer), true, where);
            String full = render(conversation.prefix(answer + 1), false, where);
            if (!prompt.startsWith(printed) || !full.startsWith(prompt)) {
                throw new IllegalArgumentException(where + ": the chat template does not print turn " + (answer / 2 + 1)
                        + " after the earlier ones unchanged, so prompt and answer cannot be told apart");
            }
            turns.add(new long[][] {tokenizer.apply(prompt.substring(printed.length())),
                    tokenizer.apply(full.substring(prompt.length()))});
            printed = full;
        }
        List<Long> ids = new ArrayList<>();
        List<Long> labels = new ArrayList<>();
        int total = 0;
        for (int turn = 0; turn < turns.size() && total < cutoffLen; turn++) {
            long[] source = turns.get(turn)[0];
            long[] target = turns.get(turn)[1];
            int[] lengths = inferSeqlen(source.length, target.length, cutoffLen - total);
            if (turn == 0 && lengths[1] == 0) {
                throw new IllegalArgumentException(where + ": the first prompt has " + source.length + " tokens, which"
                        + " leaves no room for its answer within cutoff_len " + cutoffLen);
            }
            for (int i = 0; i < lengths[0]; i++) {
                ids.add(source[i]);
                labels.add(trainOnPrompt ? source[i] : SftExample.IGNORE);
            }
            for (int i = 0; i < lengths[1]; i++) {
                ids.add(target[i]);
                labels.add(target[i]);
            }
            total += lengths[0] + lengths[1];
        }
        return new SftExample(ids.stream().mapToLong(Long::longValue).toArray(),
                labels.stream().mapToLong(Long::longValue).toArray());
    }

    /**
     * Splits a conversation for generation as LLaMA-Factory's unsupervised processor does for
     * {@code predict} ({@code data/processor/unsupervised.py}): the prompt is every message before
     * the last answer printed with the assistant's opening, the reference its last answer (with
     * whatever the template closes it with), both cut by {@code infer_seqlen} keeping their starts.
     *
     * @return {prompt ids, reference answer ids}
     * @throws IllegalArgumentException if the conversation has no answer, the template fails, or the
     *     prompt leaves no room for an answer within {@code cutoff_len}
     */
    public long[][] promptAndAnswer(Conversation conversation, String where) {
        if (!conversation.hasResponse()) {
            throw new IllegalArgumentException(where + ": the conversation ends without an answer to compare with");
        }
        int last = conversation.messages().size() - 1;
        String prompt = render(conversation.prefix(last), true, where);
        String full = render(conversation, false, where);
        if (!full.startsWith(prompt)) {
            throw new IllegalArgumentException(where + ": the chat template does not print the last answer after its"
                    + " prompt unchanged, so prompt and answer cannot be told apart");
        }
        long[] source = tokenizer.apply(prompt);
        long[] target = tokenizer.apply(full.substring(prompt.length()));
        int[] lengths = inferSeqlen(source.length, target.length, cutoffLen);
        if (lengths[1] == 0 && target.length > 0) {
            throw new IllegalArgumentException(where + ": the prompt has " + source.length + " tokens, which leaves no"
                    + " room for an answer within cutoff_len " + cutoffLen);
        }
        return new long[][] {Arrays.copyOf(source, lengths[0]), Arrays.copyOf(target, lengths[1])};
    }

    private String render(Conversation conversation, boolean addGenerationPrompt, String where) {
        try {
            return template.render(conversation.withSystem(), addGenerationPrompt);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
    }

    /**
     * LLaMA-Factory's {@code infer_seqlen}: the prompt and answer lengths kept of a turn within
     * {@code cutoff} tokens: the answer whole if it takes less than half, else the prompt whole if
     * it does, else both in proportion.
     */
    static int[] inferSeqlen(int sourceLen, int targetLen, int cutoff) {
        int maxTarget;
        if (targetLen * 2 < cutoff) {
            maxTarget = cutoff;
        } else if (sourceLen * 2 < cutoff) {
            maxTarget = cutoff - sourceLen;
        } else {
            maxTarget = (int) (cutoff * ((double) targetLen / (sourceLen + targetLen)));
        }
        int newTarget = Math.min(maxTarget, targetLen);
        int newSource = Math.min(Math.max(cutoff - newTarget, 0), sourceLen);
        return new int[] {newSource, newTarget};
    }

    /** Builds an {@link SftEncoder}: {@code setX} for what it needs, {@code optX} for what has a default. */
    public static final class Builder {
        private ChatTemplate template;
        private Function<String, long[]> tokenizer;
        private int cutoffLen = 2048;
        private boolean trainOnPrompt;

        private Builder() {}

        /** Sets the chat template that prints conversations. */
        public Builder setTemplate(ChatTemplate template) {
            this.template = template;
            return this;
        }

        /** Sets how text becomes token ids, without adding special tokens (the template prints them). */
        public Builder setTokenizer(Function<String, long[]> tokenizer) {
            this.tokenizer = tokenizer;
            return this;
        }

        /** Sets {@code cutoff_len}, the longest example in tokens; default 2048, as LLaMA-Factory's. */
        public Builder optCutoffLen(int cutoffLen) {
            if (cutoffLen < 2) {
                throw new IllegalArgumentException("cutoff_len must be at least 2, got " + cutoffLen);
            }
            this.cutoffLen = cutoffLen;
            return this;
        }

        /** Sets {@code train_on_prompt}: take the loss on prompt tokens too; default false. */
        public Builder optTrainOnPrompt(boolean trainOnPrompt) {
            this.trainOnPrompt = trainOnPrompt;
            return this;
        }

        /** Builds the encoder. */
        public SftEncoder build() {
            return new SftEncoder(this);
        }
    }

    @Override
    public String toString() {
        return "SftEncoder[cutoff_len " + cutoffLen + ", train_on_prompt " + trainOnPrompt + "]";
    }
}
