/**
 * Prefix-tuning on DJL: trainable key and value prefixes for every attention layer of a model that
 * accepts virtual tokens (such as the {@code bert} package's encoder), held directly or produced by
 * a projection MLP while training. A saved adapter holds the prefixes themselves, as Hugging Face
 * PEFT saves them. Applied through {@link org.peft4j.djl.Peft#apply} with a
 * {@link org.peft4j.api.prefix.PrefixTuningConfig}.
 */
package org.peft4j.djl.prefix;
