package org.peft4j.api.lora;

import java.util.Set;
import org.peft4j.api.Adapter;

/** A LoRA adapter: low-rank matrices A and B on each targeted linear layer. */
public interface LoraAdapter extends Adapter {
    @Override
    LoraConfig config();

    /** Returns the paths of the modules that carry this adapter's LoRA matrices. */
    Set<String> targetedModules();

    /** Returns the rank of the LoRA matrices on one targeted module. */
    default int rank(String modulePath) {
        return config().rankFor(modulePath);
    }

    /** Returns the factor s in y = W x + b + s·B(A x) on one targeted module. */
    default float scaling(String modulePath) {
        return config().scalingFor(modulePath);
    }
}
