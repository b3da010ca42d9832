package org.peft4j.api.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Thrown when a directory is being saved while another writer, in this process or another, is
 * saving to the same directory: the second writer stops instead of interleaving its files with
 * the first's.
 */
public class ConcurrentWriteException extends IOException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception for {@code directory}, whose lock file {@code lockFile} is held. */
    public ConcurrentWriteException(Path directory, Path lockFile) {
        super("another writer is saving to " + directory + " right now (it holds the lock " + lockFile
                + "); saves to one directory must not overlap: wait for it, or save somewhere else");
    }
}
