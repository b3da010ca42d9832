/**
 * Token classification ({@code TOKEN_CLS}: tagging, such as named-entity recognition) with
 * transformer PEFT as Tribuo sequence trainers: {@link org.peft4j.tribuo.tagging.TaggingPeftTrainer}
 * fine-tunes a pretrained encoder from peft-djl with LoRA, IA3, prefix- or prompt-tuning and a
 * token-classification head on Tribuo sequence examples (one per sentence, one example per word,
 * the word in a {@code W=word} feature: {@link org.peft4j.tribuo.tagging.TaggedSequences}), and
 * returns a {@link org.peft4j.tribuo.tagging.TaggingPeftModel}, a Tribuo {@code SequenceModel} that
 * tags words with the probabilities of every tag, works with Tribuo's {@code LabelSequenceEvaluator},
 * scores entities as seqeval does, records its provenance and saves its adapter as Hugging Face
 * PEFT does. As for {@code org.peft4j.tribuo.text}, add {@code peft-djl} (an optional dependency of
 * {@code peft-tribuo}) and a DJL engine to use it.
 */
package org.peft4j.tribuo.tagging;
