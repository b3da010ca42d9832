/**
 * LoRA on Tribuo's SGD models (linear models and factorization machines, for classification,
 * regression and multi-label outputs): the base weights stay as they are, a low-rank update B A is
 * trained by Tribuo's own gradient optimisers, and the adapted model keeps base and adapter apart,
 * so the adapter can be saved alone or merged into a plain Tribuo model.
 */
package org.peft4j.tribuo.lora;
