package org.peft4j.djl.serving;

import ai.djl.ndarray.NDList;
import ai.djl.translate.TranslatorContext;
import org.peft4j.djl.generation.GenerationTokenizer;

/** A prompt to the text the model continues it with, special tokens left out (see {@link PromptTranslator}). */
final class TextGenerationTranslator extends PromptTranslator<String> {
    TextGenerationTranslator(GenerationTokenizer tokenizer, ChatPrompts chat) {
        super(tokenizer, chat);
    }

    @Override
    public String processOutput(TranslatorContext ctx, NDList list) {
        return tokenizer().decode(generated(list));
    }
}
