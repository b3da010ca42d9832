/**
 * A BERT-family encoder (BERT, MiniLM, E5, BGE) built from DJL blocks that computes what Hugging
 * Face's {@code BertModel} computes, with the same module paths, so adapters and target names carry
 * over from Python unchanged. It loads pretrained weights from a Hugging Face model directory or an
 * ONNX export ({@link org.peft4j.djl.models.bert.PretrainedEncoder}), tokenizes with DJL's Hugging Face
 * tokenizer, accepts prompt- and prefix-tuning, and carries a sequence-classification head whose
 * whole classifier can be saved as a Hugging Face model directory.
 */
package org.peft4j.djl.models.bert;
