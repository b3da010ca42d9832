package org.peft4j.api.io;

import java.nio.file.FileSystemException;

/**
 * Thrown when a file to be read from a directory is a symbolic link that leads outside that
 * directory (or nowhere), is not a regular file, or is larger than the reader accepts: a directory
 * from elsewhere must not make a reader open files it did not hand over, block on a named pipe, or
 * fill the heap.
 */
public class RefusedFileException extends FileSystemException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception for {@code file}, saying why it is refused. */
    public RefusedFileException(String file, String reason) {
        super(file, null, reason);
    }
}
