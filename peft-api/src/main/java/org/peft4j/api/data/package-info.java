/**
 * Text-classification data for fine-tuning: labelled texts read from {@code .tsv}, {@code .csv} or
 * {@code .jsonl} files by column name, each row optionally marked as part of the {@code train},
 * {@code dev} or {@code test} split. The {@code peft4j} command reads its data sets through
 * {@link org.peft4j.api.data.LabeledTexts}, and so can any program that trains on such files.
 * Token-classification data (sentences of words with one tag each) is read from CoNLL or JSON
 * Lines files by {@link org.peft4j.api.data.TaggedSentences}.
 */
package org.peft4j.api.data;
