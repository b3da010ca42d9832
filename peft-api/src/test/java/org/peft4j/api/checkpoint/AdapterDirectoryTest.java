package org.peft4j.api.checkpoint;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.io.ConcurrentWriteException;

/**
 * An adapter directory saved as a unit: every state a crashed save can leave (built here by hand,
 * as the steps of {@code AtomicDirectory} leave them) loads as one whole save and is cleaned up by
 * the next save; other files in the directory survive saves; a second writer is refused; links
 * leading out of the directory, and files that are not regular files, are refused.
 */
class AdapterDirectoryTest {
    @TempDir
    Path root;

    private Path adapter() {
        return root.resolve("adapter");
    }

    private String[] siblings() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.map(p -> p.getFileName().toString()).sorted().toArray(String[]::new);
        }
    }

    /** Saves adapter number k into {@code dir} (a sibling of the adapter, as a crashed save leaves it). */
    private Path saveAs(String name, long k) throws IOException {
        Path scratch = root.resolve("scratch-" + k).resolve("a");
        SaveLoop.adapter(k).save(scratch);
        Path dir = root.resolve(name);
        Files.move(scratch, dir);
        try (Stream<Path> s = Files.walk(scratch.getParent())) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).collect(Collectors.toList())) {
                Files.delete(p);
            }
        }
        return dir;
    }

    @Test
    void aCrashWhileWritingLeavesTheOldAdapterAndTheNextSaveRemovesTheDebris() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Path debris = Files.createDirectory(root.resolve(".adapter.tmp-0001"));
        Files.write(debris.resolve(AdapterCheckpoint.WEIGHTS_FILE), new byte[] {1, 2, 3}); // half-written
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(1);
        SaveLoop.adapter(2).save(adapter());
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(2);
        assertThat(siblings()).containsExactly(".adapter.lock", "adapter");
    }

    @Test
    void aCrashBetweenTheTwoRenamesLoadsTheNewAdapterAndTheNextSaveFinishesTheSwitch() throws IOException {
        saveAs(".adapter.old-0001", 1); // the old adapter, renamed away
        saveAs(".adapter.ready-0001", 2); // the new one, complete, not yet renamed in
        assertThat(Files.exists(adapter())).isFalse();
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(2);
        SaveLoop.adapter(3).save(adapter());
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(3);
        assertThat(siblings()).containsExactly(".adapter.lock", "adapter");
    }

    @Test
    void aCompleteSaveNotYetSwitchedInWinsAtTheNextSave() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Files.writeString(adapter().resolve("trainer_log.jsonl"), "{}\n");
        saveAs(".adapter.ready-0001", 2);
        // readers see the old adapter until a writer finishes the switch
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(1);
        SaveLoop.adapter(3).save(adapter());
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(3);
        assertThat(adapter().resolve("trainer_log.jsonl")).hasContent("{}");
        assertThat(siblings()).containsExactly(".adapter.lock", "adapter");
    }

    @Test
    void aCrashWhileDeletingTheOldAdapterIsCleanedUp() throws IOException {
        SaveLoop.adapter(2).save(adapter());
        Path old = saveAs(".adapter.old-0001", 1);
        Files.delete(old.resolve(AdapterCheckpoint.CONFIG_FILE)); // half deleted
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(2);
        SaveLoop.adapter(3).save(adapter());
        assertThat(siblings()).containsExactly(".adapter.lock", "adapter");
    }

    @Test
    void otherEntriesOfTheDirectorySurviveASave() throws IOException {
        Files.createDirectories(adapter().resolve("best"));
        Files.writeString(adapter().resolve("peft4j_run.json"), "{\"run\":1}");
        Files.writeString(adapter().resolve("best").resolve("note.txt"), "kept");
        // a temporary file a crashed single-file write of the weights left behind
        Files.writeString(adapter().resolve(".adapter_model.safetensors.123.tmp"), "debris");
        SaveLoop.adapter(1).save(adapter());
        SaveLoop.adapter(2).save(adapter());
        try (Stream<Path> s = Files.list(adapter())) {
            assertThat(s.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                    "peft4j_run.json", "best", AdapterCheckpoint.CONFIG_FILE, AdapterCheckpoint.WEIGHTS_FILE);
        }
        assertThat(adapter().resolve("best").resolve("note.txt")).hasContent("kept");
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(2);
    }

    @Test
    void aSecondWriterIsRefusedWhileTheFirstHoldsTheDirectory() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        try (FileChannel channel = FileChannel.open(root.resolve(".adapter.lock"), StandardOpenOption.WRITE);
                FileLock held = channel.lock()) {
            assertThat(held.isValid()).isTrue();
            assertThatThrownBy(() -> SaveLoop.adapter(2).save(adapter()))
                    .isInstanceOf(ConcurrentWriteException.class)
                    .hasMessageContaining("another writer is saving to " + adapter())
                    .hasMessageContaining(".adapter.lock");
        }
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(1);
        SaveLoop.adapter(2).save(adapter());
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(2);
    }

    @Test
    void savingThroughALinkReplacesTheDirectoryItNames() throws IOException {
        Path real = root.resolve("runs").resolve("run-3");
        SaveLoop.adapter(1).save(real);
        Path link = Files.createSymbolicLink(root.resolve("latest"), real);
        SaveLoop.adapter(2).save(link);
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(link))).isEqualTo(2);
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(real))).isEqualTo(2);
    }

    @Test
    void aLinkLeadingOutOfTheDirectoryIsRefusedWithoutQuotingTheTarget() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Path secret = Files.writeString(root.resolve("secret.txt"), "root:x:0:0:TOP-SECRET\n");
        Path config = adapter().resolve(AdapterCheckpoint.CONFIG_FILE);
        Files.delete(config);
        Files.createSymbolicLink(config, secret);
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter()))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining(config + " is a symbolic link that leads outside " + adapter())
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("TOP-SECRET"));
        Files.delete(config);
        Files.createSymbolicLink(config, Path.of("../secret.txt"));
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter())).hasMessageContaining("leads outside");
        Files.delete(config);
        Files.createSymbolicLink(config, root.resolve("nothing-here"));
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter())).hasMessageContaining("leads nowhere");
    }

    @Test
    void aLinkInsideTheDirectoryIsFollowed() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Path weights = adapter().resolve(AdapterCheckpoint.WEIGHTS_FILE);
        Files.createDirectory(adapter().resolve("blobs"));
        Files.move(weights, adapter().resolve("blobs").resolve("abc123"));
        Files.createSymbolicLink(weights, Path.of("blobs/abc123"));
        assertThat(SaveLoop.numberOf(AdapterCheckpoint.load(adapter()))).isEqualTo(1);
    }

    @Test
    void aNamedPipeIsRefusedInsteadOfBlockingTheReader() throws Exception {
        SaveLoop.adapter(1).save(adapter());
        Path config = adapter().resolve(AdapterCheckpoint.CONFIG_FILE);
        Files.delete(config);
        Process mkfifo;
        try {
            mkfifo = new ProcessBuilder("mkfifo", config.toString()).start();
        } catch (IOException e) {
            assumeTrue(false, "no mkfifo here");
            return;
        }
        assumeTrue(mkfifo.waitFor() == 0, "mkfifo failed");
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter()))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining(config + " is not a regular file");
    }

    @Test
    void aConfigLargerThanTheLimitIsRefusedUnread() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Path config = adapter().resolve(AdapterCheckpoint.CONFIG_FILE);
        try (FileChannel channel = FileChannel.open(config, StandardOpenOption.WRITE)) {
            channel.truncate(0);
            channel.write(java.nio.ByteBuffer.wrap("{}".getBytes(StandardCharsets.US_ASCII)), AdapterCheckpoint.MAX_CONFIG_BYTES);
        }
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter()))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessageContaining(config + " is 16777218 bytes, more than the 16777216 it may have");
    }

    @Test
    void aConfigThatIsNotUtf8IsNamed() throws IOException {
        SaveLoop.adapter(1).save(adapter());
        Path config = adapter().resolve(AdapterCheckpoint.CONFIG_FILE);
        Files.write(config, new byte[] {'{', '"', (byte) 0xff, '"', ':', '1', '}'});
        assertThatThrownBy(() -> AdapterCheckpoint.load(adapter()))
                .isInstanceOf(AdapterFormatException.class)
                .hasMessage(config + ": not UTF-8 text (an invalid byte sequence at byte 2)");
    }
}
