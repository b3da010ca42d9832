/**
 * What trainers that continue from a pretrained Tribuo SGD model share: the model families peft4j
 * adapts (linear or factorization machine; label, regressor or multi-label outputs), the base
 * weights laid out again over the new data's features and outputs by name, and full fine-tuning
 * from the base weights (a warm start), the baseline LoRA is measured against.
 */
package org.peft4j.tribuo.sgd;
