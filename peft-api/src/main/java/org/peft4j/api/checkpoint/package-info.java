/**
 * Adapter checkpoints in Hugging Face PEFT's layout: a directory with {@code adapter_config.json} and
 * {@code adapter_model.safetensors}, written as PEFT's {@code save_pretrained} writes them and read as
 * its {@code from_pretrained} reads them, so an adapter trained in Java loads in Python and the other
 * way round. {@link org.peft4j.api.checkpoint.AdapterCheckpoint} holds one in memory; a file that does
 * not fit the format fails with an {@link org.peft4j.api.AdapterFormatException} naming the
 * file and the key.
 */
package org.peft4j.api.checkpoint;
