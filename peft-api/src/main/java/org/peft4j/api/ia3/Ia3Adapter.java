package org.peft4j.api.ia3;

import java.util.Set;
import org.peft4j.api.Adapter;

/** An (IA)³ adapter: one learned scaling vector on each targeted linear layer. */
public interface Ia3Adapter extends Adapter {
    @Override
    Ia3Config config();

    /** Returns the paths of the modules that carry this adapter's vectors. */
    Set<String> targetedModules();

    /** Returns whether the vector on a targeted module scales its input (feed-forward) rather than its output. */
    default boolean isFeedforward(String modulePath) {
        return config().isFeedforward(modulePath);
    }
}
