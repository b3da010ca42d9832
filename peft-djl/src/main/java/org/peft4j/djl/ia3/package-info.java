/**
 * (IA)³ on DJL: the targeted {@code Linear} layers, found by module path, are replaced by layers
 * that rescale their input (feed-forward modules) or their output by a learned vector, one vector
 * per adapter. Adapters merge into the base weights (W's columns, or its rows and the bias) for
 * inference at the base model's cost, and unmerge again. Applied through
 * {@link org.peft4j.djl.Peft#apply} with an {@link org.peft4j.api.ia3.Ia3Config}.
 */
package org.peft4j.djl.ia3;
