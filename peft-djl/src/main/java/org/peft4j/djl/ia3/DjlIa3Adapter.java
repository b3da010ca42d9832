package org.peft4j.djl.ia3;

import java.util.Map;
import org.peft4j.api.ia3.Ia3Adapter;
import org.peft4j.api.ia3.Ia3Config;
import org.peft4j.api.safetensors.Tensor;
import org.peft4j.djl.internal.LayerAdapter;
import org.peft4j.djl.internal.SavedModules;
import org.peft4j.djl.internal.TensorConversions;

/**
 * An (IA)³ adapter attached to a DJL block tree: its vector on each targeted {@link Ia3Linear},
 * plus any whole modules ({@code modules_to_save}) it trains in place.
 */
final class DjlIa3Adapter extends LayerAdapter<Ia3Vector, Ia3Linear> implements Ia3Adapter {
    private final Ia3Config config;

    DjlIa3Adapter(String name, Ia3Config config, Map<String, Ia3Linear> layers, SavedModules savedModules) {
        super(name, layers, savedModules);
        this.config = config;
    }

    @Override
    public Ia3Config config() {
        return config;
    }

    /** {@inheritDoc} The vector is saved as {@code base_model.model.<module path>.ia3_l}, as PEFT saves it. */
    @Override
    protected void putTensors(String path, Ia3Vector vector, Map<String, Tensor> out) {
        out.put(Ia3Injector.key(path), TensorConversions.toTensor(vector.l.getArray()));
    }
}
