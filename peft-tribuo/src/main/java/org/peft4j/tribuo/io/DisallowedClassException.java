package org.peft4j.tribuo.io;

/**
 * A serialized model named a class that is not on {@link ModelReader}'s allow-list; the class was
 * refused before it was loaded or initialized, so none of its code ran.
 */
public final class DisallowedClassException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** The refused class name. */
    private final String className;

    /**
     * A refusal of {@code className}.
     *
     * @param message what was refused, where, and what was expected
     * @param cause what refused it, or null
     */
    public DisallowedClassException(String message, String className, Throwable cause) {
        super(message, cause);
        this.className = className;
    }

    /** A refusal of {@code className}, found at {@code where} (a file, a field path), because it is not on the allow-list. */
    static DisallowedClassException notAllowed(String where, String className, Throwable cause) {
        return new DisallowedClassException(where + ": the class " + className + " is not on the allow-list of"
                + " classes a serialized peft4j/Tribuo model may name (peft4j's models, Tribuo, OLCUT's provenance and"
                + " basic JDK types), so it was refused before being loaded. If you trust the file, add the class (or"
                + " its package as 'pkg.*' or 'pkg.**') to the system property " + ModelReader.ALLOWED_CLASSES_PROPERTY
                + " (entries separated by ';')", className, cause);
    }

    /** The refused class name. */
    public String className() {
        return className;
    }
}
