/**
 * Chat templates: a model's {@code tokenizer_config.json} template rendered on the JVM as
 * transformers renders it, for supervised fine-tuning, prediction and chat.
 */
package org.peft4j.djl.chat;
