/**
 * A pure-Java reader and writer of the safetensors format that Hugging Face uses for weights and
 * adapters: an 8-byte little-endian header length, a JSON header giving each tensor's element type,
 * shape and byte range, then the raw little-endian data. {@link org.peft4j.api.safetensors.SafeTensors}
 * reads and writes files, and {@link org.peft4j.api.safetensors.Tensor} widens the 16-bit formats
 * (F16, BF16) to float32 exactly, for frameworks that cannot hold them.
 */
package org.peft4j.api.safetensors;
