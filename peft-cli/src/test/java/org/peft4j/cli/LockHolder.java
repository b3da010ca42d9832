package org.peft4j.cli;

import java.nio.file.Path;

/** Holds an output directory's lock in a process of its own, until its standard input ends (for tests). */
final class LockHolder {
    private LockHolder() {}

    /** Locks the directory {@code args[0]}, prints "locked", and waits for standard input to end. */
    public static void main(String[] args) throws Exception {
        try (OutputLock lock = OutputLock.acquire(Path.of(args[0]))) {
            System.out.println("locked");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close our standard input
            }
        }
    }
}
