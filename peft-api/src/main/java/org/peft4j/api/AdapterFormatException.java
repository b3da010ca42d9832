package org.peft4j.api;

/**
 * Thrown when an adapter checkpoint cannot be read: a malformed {@code adapter_config.json}, a
 * missing file, or tensors that do not fit the config. The message names the file and the key.
 */
public class AdapterFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a message that says what was wrong and where. */
    public AdapterFormatException(String message) {
        super(message);
    }

    /** Creates an exception with a message and the error underneath it. */
    public AdapterFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
