package org.peft4j.api.safetensors;

/** Thrown when bytes that should be a safetensors file break the format's rules. */
public class SafeTensorsFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Creates an exception with a message that says what was wrong and where. */
    public SafeTensorsFormatException(String message) {
        super(message);
    }

    /** Creates an exception with a message and the error underneath it. */
    public SafeTensorsFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
