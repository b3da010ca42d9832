package org.peft4j.djl.serving;

import ai.djl.nn.Block;
import ai.djl.translate.ArgumentsUtil;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.peft4j.api.PeftMethods;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;

/** How every served task puts a fine-tuned directory's adapter on the model it built. */
final class FineTunedAdapter {
    private FineTunedAdapter() {}

    /**
     * Reads the directory's adapter and checks that the argument {@value FineTunedDirectory#MERGE}
     * can be honoured.
     *
     * @throws IllegalArgumentException if merging is asked of prompt- or prefix-tuning
     */
    static AdapterCheckpoint read(FineTunedDirectory directory, Map<String, ?> arguments) throws IOException {
        AdapterCheckpoint adapter = AdapterCheckpoint.load(directory.path());
        if (merge(arguments) && PeftMethods.forConfig(adapter.config()).isPromptLearning()) {
            throw new IllegalArgumentException(directory.path() + ": a " + adapter.config().peftType()
                    + " adapter adds virtual tokens and cannot merge into the weights; drop the argument \""
                    + FineTunedDirectory.MERGE + "\"");
        }
        return adapter;
    }

    /**
     * Merges the adapters trained before into {@code model}, in order, then attaches {@code adapter}
     * (merged too with the argument {@value FineTunedDirectory#MERGE}).
     */
    static void attach(Block model, FineTunedDirectory directory, AdapterCheckpoint adapter, Map<String, ?> arguments)
            throws IOException {
        for (Path merged : directory.mergedAdapters()) {
            Peft.load(model, merged).mergeAndUnload();
        }
        PeftModel peft = Peft.load(model, adapter, directory.path().toString());
        if (merge(arguments)) {
            peft.mergeAndUnload();
        }
    }

    private static boolean merge(Map<String, ?> arguments) {
        return ArgumentsUtil.booleanValue(arguments, FineTunedDirectory.MERGE);
    }
}
