package org.peft4j.djl.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.training.loss.Loss;

/**
 * The mean squared error, mean over (prediction - target)², for regression heads. Unlike DJL's
 * {@code L2Loss} (which multiplies by 0.5) it uses no scalar operand, so autograd never holds a
 * number backed by Java memory (see {@link org.peft4j.djl.internal.NativeScalars}).
 */
public final class MeanSquaredErrorLoss extends Loss {
    /** A loss named "MSE". */
    public MeanSquaredErrorLoss() {
        super("MSE");
    }

    @Override
    public NDArray evaluate(NDList labels, NDList predictions) {
        NDArray prediction = predictions.singletonOrThrow();
        NDArray target = labels.singletonOrThrow().reshape(prediction.getShape());
        return prediction.sub(target).square().mean();
    }
}
