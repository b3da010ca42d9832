/**
 * (IA)³, infused adapter by inhibiting and amplifying inner activations (Liu et al. 2022): each
 * targeted linear layer gains one learned vector l, starting at ones, that rescales its input
 * (feed-forward modules: y = W (l ⊙ x) + b) or its output, bias included (y = l ⊙ (W x + b)).
 * {@link org.peft4j.api.ia3.Ia3Config} holds the settings under Hugging Face PEFT's names
 * ({@code target_modules}, {@code feedforward_modules}, {@code init_ia3_weights}, ...); the
 * frameworks' packages put the vectors on their layers.
 */
package org.peft4j.api.ia3;
