package org.peft4j.api.internal;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SecureDirectoryStream;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.peft4j.api.io.ConcurrentWriteException;
import org.peft4j.api.io.RefusedFileException;

/**
 * Saves a set of files into a directory as one unit, and reads them back as one unit: a reader
 * gets every file from the same save, never one file from one save and another from the next,
 * and a crash (even {@code kill -9} or a power cut) at any moment leaves the previous save or the
 * new one, whole.
 *
 * <p><b>How a save works.</b> The files of a directory {@code T} are written into a fresh sibling
 * {@code .T.tmp-ID}, flushed to disk, and that directory is renamed to {@code .T.ready-ID}: from
 * then on the save is complete and will win. Whatever else {@code T} holds (a training log, a run
 * record, a sub-directory) is moved into it entry by entry; then {@code T} is renamed to
 * {@code .T.old-ID}, {@code .T.ready-ID} to {@code T}, and the old directory is deleted. A second
 * writer to {@code T} is refused with a {@link ConcurrentWriteException} while the first holds the
 * lock file {@code .T.lock} beside it (which stays there, empty).
 *
 * <p><b>Why this design.</b> POSIX cannot rename a directory over a non-empty one, so replacing a
 * directory takes two renames; the moment between them, and crashes at any other moment, are
 * covered by recovery: each save first finishes (a {@code ready} directory exists) or discards (a
 * {@code tmp} directory) what a crashed save left, and a reader that finds {@code T} missing reads
 * the {@code ready} directory. The alternatives were weighed: making {@code T} a symbolic link to
 * versioned directories would break copying and uploading an adapter directory with ordinary
 * tools, and a checksum manifest binding the files together would make every hand edit of a
 * config an error. Readers pin the directory: on Linux and macOS they open it once and open each
 * file relative to that handle ({@link SecureDirectoryStream}), so a save that replaces {@code T}
 * halfway through a read cannot mix the two; where the platform has no such handle, the reader
 * checks that {@code T} is still the same directory after reading and reads again if not.
 *
 * <p><b>What readers refuse.</b> A file that is a symbolic link leading outside the directory (or
 * nowhere), or that is not a regular file (a named pipe would block the reader), is refused with a
 * {@link RefusedFileException}.
 */
public final class AtomicDirectory {
    private static final String TMP = ".tmp-";
    private static final String READY = ".ready-";
    private static final String OLD = ".old-";
    private static final String LOCK = ".lock";
    /** A reader starts again when a save replaced the directory under it; this many times at most. */
    private static final int READ_ATTEMPTS = 100;

    private AtomicDirectory() {}

    /** A consistent view of one directory's files, all from the same save. */
    public interface Snapshot {
        /** Returns the directory being read (for messages). */
        Path directory();

        /**
         * Opens a file of the directory for reading.
         *
         * @throws NoSuchFileException if there is no such file
         * @throws RefusedFileException if it is a link leading outside the directory, or not a regular file
         */
        SeekableByteChannel open(String fileName) throws IOException;

        /**
         * Reads a whole file, refusing one larger than {@code maxBytes}.
         *
         * @throws RefusedFileException as {@link #open} does, or if the file is larger than {@code maxBytes}
         */
        default byte[] readAllBytes(String fileName, int maxBytes) throws IOException {
            try (SeekableByteChannel channel = open(fileName)) {
                long size = channel.size();
                if (size > maxBytes) {
                    throw new RefusedFileException(directory().resolve(fileName).toString(),
                            "is " + size + " bytes, more than the " + maxBytes + " it may have");
                }
                ByteBuffer buffer = ByteBuffer.allocate((int) size);
                while (buffer.hasRemaining() && channel.read(buffer) >= 0) {
                    // read until full or end of file
                }
                if (buffer.hasRemaining() || channel.read(ByteBuffer.allocate(1)) >= 0) {
                    throw new IOException(directory().resolve(fileName) + " changed size while being read");
                }
                return buffer.array();
            }
        }
    }

    /** Reads from a {@link Snapshot}. */
    @FunctionalInterface
    public interface Reader<T> {
        /** Reads what is needed; a {@link NoSuchFileException} caused by a concurrent save makes it run again. */
        T read(Snapshot snapshot) throws IOException;
    }

    /**
     * Replaces the files of {@code directory} (created if needed) with {@code files}, as one unit;
     * other entries already in the directory are kept (moved into the new one).
     *
     * @param files file names (plain names, no separators) and their contents
     * @throws ConcurrentWriteException if another writer is saving to the same directory
     * @throws FileAlreadyExistsException if {@code directory} exists and is not a directory
     * @throws IllegalArgumentException if a name is not a plain file name, or {@code directory} is a
     *     root or the working directory
     */
    public static void write(Path directory, Map<String, AtomicFiles.Content> files) throws IOException {
        for (String name : files.keySet()) {
            if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/") || name.contains("\\")
                    || name.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("not a plain file name: " + Excerpt.quote(name));
            }
        }
        Path target = directory.toAbsolutePath().normalize();
        if (Files.isSymbolicLink(target)) {
            target = target.toRealPath(); // replace the directory the link names; the link keeps naming it
        }
        Path parent = target.getParent();
        if (parent == null || target.equals(Path.of("").toAbsolutePath())) {
            throw new IllegalArgumentException("refusing to replace " + target
                    + " as a whole: it is a root or the working directory; save into a directory of its own");
        }
        String name = target.getFileName().toString();
        Files.createDirectories(parent);
        Path lockFile = parent.resolve("." + name + LOCK);
        try (FileChannel lockChannel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = lockChannel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by another thread of this process
            }
            if (lock == null) {
                throw new ConcurrentWriteException(target, lockFile);
            }
            try {
                recover(parent, name, files.keySet());
                String id = Long.toHexString(System.currentTimeMillis()) + "-"
                        + Integer.toHexString(ThreadLocalRandom.current().nextInt() & 0x7fffffff);
                Path staging = parent.resolve("." + name + TMP + id);
                Files.createDirectory(staging);
                Path ready = parent.resolve("." + name + READY + id);
                try {
                    for (Map.Entry<String, AtomicFiles.Content> f : files.entrySet()) {
                        writeDurably(staging.resolve(f.getKey()), f.getValue());
                    }
                    fsyncDirectory(staging);
                    Files.move(staging, ready, StandardCopyOption.ATOMIC_MOVE);
                    fsyncDirectory(parent);
                } catch (IOException | RuntimeException e) {
                    deleteTree(staging);
                    throw e;
                }
                publish(parent, name, ready, id, files.keySet());
            } finally {
                lock.release();
            }
        }
    }

    /**
     * Reads {@code directory} through {@code reader}, with every file from the same save.
     *
     * @throws NoSuchFileException if the directory, or a file the reader asks for, does not exist
     * @throws IOException if the reader fails, or saves replaced the directory 100 times during reads
     */
    public static <T> T read(Path directory, Reader<T> reader) throws IOException {
        Path target = directory.toAbsolutePath().normalize();
        for (int attempt = 1; ; attempt++) {
            Path dir = locate(target);
            Object before;
            try {
                before = identity(Files.readAttributes(dir, BasicFileAttributes.class));
            } catch (NoSuchFileException e) {
                if (attempt < READ_ATTEMPTS && currentIdentity(target) != null) {
                    continue; // replaced between locating and opening it
                }
                throw e;
            }
            DirectoryStream<Path> stream;
            try {
                stream = Files.newDirectoryStream(dir);
            } catch (NoSuchFileException e) {
                if (attempt < READ_ATTEMPTS && currentIdentity(target) != null) {
                    continue; // the located directory went away: a save replaced it
                }
                throw e;
            }
            try (stream) {
                Snapshot snapshot;
                if (stream instanceof SecureDirectoryStream) {
                    @SuppressWarnings("unchecked")
                    SecureDirectoryStream<Path> secure = (SecureDirectoryStream<Path>) stream;
                    before = identity(secure.getFileAttributeView(BasicFileAttributeView.class).readAttributes());
                    snapshot = new Pinned(dir, secure);
                } else {
                    snapshot = new ByPath(dir);
                }
                try {
                    T result = reader.read(snapshot);
                    if (snapshot instanceof ByPath && !Objects.equals(before, currentIdentity(target))) {
                        continue; // replaced while we read by path: read again
                    }
                    return result;
                } catch (NoSuchFileException e) {
                    // compared while the directory is still open: an open directory keeps its inode, so a
                    // later save cannot reuse its number and pass for the directory that was read
                    if (attempt < READ_ATTEMPTS && !Objects.equals(before, currentIdentity(target))) {
                        continue; // a save replaced the directory under us: read the new one
                    }
                    if (attempt >= READ_ATTEMPTS) {
                        throw new IOException(target + " was replaced " + READ_ATTEMPTS
                                + " times while being read; giving up", e);
                    }
                    throw e;
                }
            }
        }
    }

    /** Where the current save of {@code target} is: itself, or the complete save a crash left beside it. */
    private static Path locate(Path target) throws IOException {
        if (Files.isDirectory(target) || target.getParent() == null) {
            return target;
        }
        String name = target.getFileName().toString();
        List<Path> ready = siblings(target.getParent(), name, READY);
        if (!ready.isEmpty()) {
            return ready.get(ready.size() - 1);
        }
        List<Path> old = siblings(target.getParent(), name, OLD);
        return old.isEmpty() ? target : old.get(old.size() - 1);
    }

    private static Object currentIdentity(Path target) throws IOException {
        try {
            return identity(Files.readAttributes(locate(target), BasicFileAttributes.class));
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** Tells directories apart: the inode where there is one, else the creation time. */
    private static Object identity(BasicFileAttributes attributes) {
        return attributes.fileKey() != null ? attributes.fileKey() : attributes.creationTime();
    }

    /** Finishes or discards what crashed saves of {@code parent/name} left; the caller holds the lock. */
    private static void recover(Path parent, String name, Set<String> written) throws IOException {
        for (Path tmp : siblings(parent, name, TMP)) {
            deleteTree(tmp);
        }
        List<Path> ready = siblings(parent, name, READY);
        if (!ready.isEmpty()) {
            Path newest = ready.get(ready.size() - 1);
            for (Path stale : ready.subList(0, ready.size() - 1)) {
                deleteTree(stale);
            }
            String id = newest.getFileName().toString().substring(name.length() + 1 + READY.length());
            publish(parent, name, newest, id, written);
        }
        Path target = parent.resolve(name);
        List<Path> old = siblings(parent, name, OLD);
        if (!old.isEmpty() && !Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            // cannot happen with the order of publish; if something removed T by hand, restore the last save
            Files.move(old.remove(old.size() - 1), target, StandardCopyOption.ATOMIC_MOVE);
        }
        for (Path stale : old) {
            deleteTree(stale);
        }
    }

    /** Switches the complete directory {@code ready} in as {@code parent/name}. */
    private static void publish(Path parent, String name, Path ready, String id, Set<String> written)
            throws IOException {
        Path target = parent.resolve(name);
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                throw new FileAlreadyExistsException(target.toString(), null, "exists and is not a directory");
            }
            carryOver(target, ready, written);
            Path old = parent.resolve("." + name + OLD + id);
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(ready, target, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(parent);
            deleteTree(old);
        } else {
            Files.move(ready, target, StandardCopyOption.ATOMIC_MOVE);
            fsyncDirectory(parent);
        }
    }

    /**
     * Moves the entries of {@code from} that the new save does not replace into {@code to}, except
     * the temporary files that crashed single-file writes of the saved files left.
     */
    private static void carryOver(Path from, Path to, Set<String> written) throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(from)) {
            for (Path entry : entries) {
                String entryName = entry.getFileName().toString();
                if (Files.exists(to.resolve(entryName), LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                if (isStaleTemporary(entryName, written)) {
                    continue; // dies with the old directory
                }
                Files.move(entry, to.resolve(entryName), StandardCopyOption.ATOMIC_MOVE);
            }
        }
    }

    private static boolean isStaleTemporary(String entryName, Set<String> written) {
        for (String name : written) {
            if (entryName.startsWith("." + name + ".") && entryName.endsWith(".tmp")) {
                return true;
            }
        }
        return false;
    }

    /** The siblings {@code .name<kind>*} of {@code parent/name}, oldest first. */
    private static List<Path> siblings(Path parent, String name, String kind) throws IOException {
        String prefix = "." + name + kind;
        List<Path> found = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(parent)) {
            for (Path entry : entries) {
                if (entry.getFileName().toString().startsWith(prefix)) {
                    found.add(entry);
                }
            }
        } catch (NoSuchFileException e) {
            return found;
        }
        found.sort(Comparator.comparing(p -> p.getFileName().toString()));
        return found;
    }

    private static void writeDurably(Path file, AtomicFiles.Content content) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                OutputStream out = Channels.newOutputStream(channel)) {
            content.writeTo(out);
            out.flush();
            channel.force(true);
        }
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException e) {
            // not a POSIX file system: its defaults stand
        }
    }

    /** Flushes a directory's entries to disk where the platform allows opening a directory. */
    static void fsyncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException e) {
            // Windows cannot open a directory as a file; its renames are durable without this
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> entries = Files.newDirectoryStream(root)) {
                for (Path entry : entries) {
                    deleteTree(entry);
                }
            }
        }
        Files.deleteIfExists(root);
    }

    /** Reads files relative to an open directory handle. */
    private static final class Pinned implements Snapshot {
        private final Path dir;
        private final SecureDirectoryStream<Path> stream;

        Pinned(Path dir, SecureDirectoryStream<Path> stream) {
            this.dir = dir;
            this.stream = stream;
        }

        @Override
        public Path directory() {
            return dir;
        }

        @Override
        public SeekableByteChannel open(String fileName) throws IOException {
            Path name = dir.getFileSystem().getPath(fileName);
            BasicFileAttributes attributes = stream.getFileAttributeView(name, BasicFileAttributeView.class,
                    LinkOption.NOFOLLOW_LINKS).readAttributes();
            if (attributes.isSymbolicLink()) {
                checkLinkStaysInside(dir, fileName);
                return stream.newByteChannel(name, Set.of(StandardOpenOption.READ));
            }
            requireRegular(dir, fileName, attributes);
            Set<OpenOption> options = Set.of(StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            return stream.newByteChannel(name, options);
        }
    }

    /** Reads files by path, for platforms without directory handles. */
    private static final class ByPath implements Snapshot {
        private final Path dir;

        ByPath(Path dir) {
            this.dir = dir;
        }

        @Override
        public Path directory() {
            return dir;
        }

        @Override
        public SeekableByteChannel open(String fileName) throws IOException {
            Path file = dir.resolve(fileName);
            BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (attributes.isSymbolicLink()) {
                checkLinkStaysInside(dir, fileName);
                return Files.newByteChannel(file, StandardOpenOption.READ);
            }
            requireRegular(dir, fileName, attributes);
            return Files.newByteChannel(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        }
    }

    private static void checkLinkStaysInside(Path dir, String fileName) throws IOException {
        Path link = dir.resolve(fileName);
        Path real;
        try {
            real = link.toRealPath();
        } catch (NoSuchFileException e) {
            throw new RefusedFileException(link.toString(), "is a symbolic link that leads nowhere");
        }
        if (!real.startsWith(dir.toRealPath())) {
            throw new RefusedFileException(link.toString(), "is a symbolic link that leads outside " + dir
                    + "; refused (copy the file itself into the directory, e.g. with cp -L)");
        }
        requireRegular(dir, fileName, Files.readAttributes(real, BasicFileAttributes.class));
    }

    private static void requireRegular(Path dir, String fileName, BasicFileAttributes attributes)
            throws RefusedFileException {
        if (!attributes.isRegularFile()) {
            throw new RefusedFileException(dir.resolve(fileName).toString(), "is not a regular file");
        }
    }
}
