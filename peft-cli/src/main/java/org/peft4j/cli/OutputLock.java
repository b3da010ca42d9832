package org.peft4j.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;

/**
 * An output directory held by one {@code peft4j train} at a time: an operating-system lock
 * ({@link FileChannel#tryLock}) on {@value #FILE} inside it, which the system releases when the
 * process ends however it ends. Taking it also proves the directory can be written, before any
 * work. The lock file stays (it is empty but for the holder's process id); a directory that this
 * lock created and that holds nothing else when it is released is removed again, so a run that
 * failed before writing anything leaves nothing behind.
 */
final class OutputLock implements AutoCloseable {
    /** The lock file's name inside the output directory. */
    static final String FILE = ".peft4j.lock";

    private final Path directory;
    private final boolean created;
    private final FileChannel channel;
    private final FileLock lock;

    private OutputLock(Path directory, boolean created, FileChannel channel, FileLock lock) {
        this.directory = directory;
        this.created = created;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Creates {@code directory} if needed and locks it.
     *
     * @throws IllegalArgumentException if the directory cannot be created or written, or another
     *     live process holds it
     */
    static OutputLock acquire(Path directory) {
        boolean created = !Files.exists(directory);
        FileChannel channel = null;
        try {
            Files.createDirectories(directory);
            channel = FileChannel.open(directory.resolve(FILE), StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // this process holds it already
            }
            if (lock == null) {
                String holder = new String(Files.readAllBytes(directory.resolve(FILE)), StandardCharsets.UTF_8).trim();
                channel.close();
                throw new IllegalArgumentException("output_dir " + directory + " is in use by another peft4j train"
                        + (holder.isEmpty() ? "" : " (process " + holder + ")") + "; wait for it to end or choose"
                        + " another output_dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)));
            channel.force(false);
            return new OutputLock(directory, created, channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            String reason = e instanceof FileAlreadyExistsException ? "a file of that name is in the way"
                    : e.getClass().getSimpleName() + ": " + e.getMessage();
            throw new IllegalArgumentException("output_dir " + directory + " cannot be written (" + reason + ")");
        }
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // the channel is being discarded after an error that is reported instead
            }
        }
    }

    /** Releases the lock; removes the directory if this lock created it and nothing else was written. */
    @Override
    public void close() throws IOException {
        try {
            if (created && holdsOnlyTheLock()) {
                Files.delete(directory.resolve(FILE));
                Files.delete(directory);
            }
        } finally {
            lock.release();
            channel.close();
        }
    }

    private boolean holdsOnlyTheLock() throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory)) {
            Iterator<Path> it = entries.iterator();
            return it.hasNext() && it.next().getFileName().toString().equals(FILE) && !it.hasNext();
        }
    }
}
