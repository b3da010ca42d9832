package org.peft4j.djl.serving;

import ai.djl.inference.streaming.StreamingBlock;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.Generator;
import org.peft4j.djl.models.CausalLanguageModel;

/**
 * A language model and its generation settings as one DJL block, so that DJL's {@code Predictor}
 * runs a whole {@link Generator} loop as one forward pass. Input: prompt ids [B, T], each row's
 * prompt right-aligned (left padding) and {@code lengths} [B] (how many of a row's last ids are
 * its prompt); output: the new ids [B, N] (rows that stopped early padded as {@link Generator}
 * pads them) and [B] how many of each row's ids it generated up to and including its first
 * end-of-sequence token.
 *
 * <p>As a {@link StreamingBlock} it generates for one prompt and hands each new token on as it is
 * chosen, as an element [1] of the stream, when the stream is consumed by {@code forEach} (as the
 * translator's asynchronous output does); pulled one element at a time (an iterator), the whole
 * continuation is generated at the first pull.
 */
final class GenerationBlock extends AbstractBlock implements StreamingBlock {
    /** The child name of the language model. */
    static final String MODEL = "model";

    private final CausalLanguageModel model;
    private final Generator generator;
    private final Set<Long> eos;

    GenerationBlock(CausalLanguageModel model, GenerationConfig config) {
        this.model = addChildBlock(MODEL, model);
        generator = new Generator(model, config);
        eos = new HashSet<>(config.eosTokenIds());
    }

    /** Returns the settings the model generates with. */
    GenerationConfig config() {
        return generator.config();
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDManager manager = inputs.head().getManager();
        long[][] generated = generator.generate(manager, prompts(inputs), null);
        int width = generated[0].length;
        long[] flat = new long[generated.length * width];
        long[] lengths = new long[generated.length];
        for (int b = 0; b < generated.length; b++) {
            System.arraycopy(generated[b], 0, flat, b * width, width);
            lengths[b] = width;
            for (int t = 0; t < width; t++) {
                if (eos.contains(generated[b][t])) {
                    lengths[b] = t + 1;
                    break;
                }
            }
        }
        return new NDList(manager.create(flat, new Shape(generated.length, width)), manager.create(lengths));
    }

    /** The unpadded prompts of the input rows. */
    private static List<long[]> prompts(NDList inputs) {
        NDArray ids = inputs.get(0);
        long[] lengths = inputs.get(1).toLongArray();
        long width = ids.getShape().get(1);
        long[] flat = ids.toLongArray();
        List<long[]> prompts = new ArrayList<>(lengths.length);
        for (int b = 0; b < lengths.length; b++) {
            int end = (int) ((b + 1) * width);
            prompts.add(Arrays.copyOfRange(flat, end - (int) lengths[b], end));
        }
        return prompts;
    }

    /**
     * The new tokens of the one prompt in {@code inputs}, each an element [1] of the stream as it
     * is chosen (the end-of-sequence token included).
     *
     * @throws IllegalArgumentException if {@code inputs} hold more than one prompt
     */
    @Override
    public Stream<NDList> forwardStream(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        return StreamSupport.stream(new Tokens(inputs), false);
    }

    @Override
    public Iterator<NDList> forwardStreamIter(ParameterStore ps, NDList inputs, boolean training,
            PairList<String, Object> params) {
        return Spliterators.iterator(new Tokens(inputs));
    }

    /** The tokens of one prompt: pushed as they are chosen by {@link #forEachRemaining}, else buffered. */
    private final class Tokens implements Spliterator<NDList> {
        private final NDList inputs;
        private Iterator<NDList> buffered;

        Tokens(NDList inputs) {
            if (inputs.get(1).size() != 1) {
                throw new IllegalArgumentException("streaming generates for one prompt, got "
                        + inputs.get(1).size());
            }
            this.inputs = inputs;
        }

        @Override
        public void forEachRemaining(Consumer<? super NDList> action) {
            if (buffered != null) {
                buffered.forEachRemaining(action);
                return;
            }
            NDManager manager = inputs.head().getManager();
            buffered = List.<NDList>of().iterator();
            generator.generate(manager, prompts(inputs),
                    (row, token) -> action.accept(new NDList(manager.create(new long[] {token}))));
        }

        @Override
        public boolean tryAdvance(Consumer<? super NDList> action) {
            if (buffered == null) {
                List<NDList> all = new ArrayList<>();
                forEachRemaining(all::add);
                buffered = all.iterator();
            }
            if (!buffered.hasNext()) {
                return false;
            }
            action.accept(buffered.next());
            return true;
        }

        @Override
        public Spliterator<NDList> trySplit() {
            return null;
        }

        @Override
        public long estimateSize() {
            return Long.MAX_VALUE;
        }

        @Override
        public int characteristics() {
            return ORDERED | NONNULL;
        }
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        long batch = inputShapes[0].get(0);
        return new Shape[] {new Shape(batch, generator.config().maxNewTokens()), new Shape(batch)};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        model.initialize(manager, dataType, inputShapes[0]);
    }
}
