/**
 * Conversations for supervised fine-tuning of language models, and readers of the two dataset
 * formats LLaMA-Factory reads: alpaca ({@code instruction}, {@code input}, {@code output},
 * {@code system}, {@code history}) and sharegpt ({@code conversations} of {@code from} / {@code value}).
 */
package org.peft4j.api.data.chat;
