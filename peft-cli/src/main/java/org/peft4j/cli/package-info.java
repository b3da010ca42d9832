/**
 * The {@code peft4j} command: {@code train} fine-tunes a text classifier from a YAML file whose keys
 * are LLaMA-Factory's where it has the setting, and {@code eval}, {@code predict} and {@code export}
 * use what it trained. Every key is checked before training starts, and bad input exits with a
 * message that names the key, the file or the column.
 */
package org.peft4j.cli;
