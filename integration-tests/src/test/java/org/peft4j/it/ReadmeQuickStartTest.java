package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a new user does: paste README.md's dependency snippet into a fresh Maven project, paste the
 * DJL quick start beside it, build, and run it offline. The project resolves peft4j from a local
 * repository holding only the artifacts this build just made (every other artifact comes from the
 * user's repository, offline), so the published POMs, the BOM and the snippet are tested together.
 */
class ReadmeQuickStartTest {
    /** The version the README's snippet names, which a release publishes. */
    private static final String DOCUMENTED_VERSION = "<version>0.1.0</version>";
    private static final Pattern BLOCK = Pattern.compile("```(\\w+)\\n(.*?)```", Pattern.DOTALL);

    private final Path root = Path.of(System.getProperty("peft4j.root"));
    private final String version = System.getProperty("peft4j.version");

    @Test
    void theDocumentedSnippetBuildsAFreshProjectThatRunsTheQuickStart(@TempDir Path dir) throws Exception {
        String readme = Files.readString(root.resolve("README.md"), StandardCharsets.UTF_8);
        String snippet = firstBlock(readme, "xml", 0);
        String program = firstBlock(readme, "java", readme.indexOf("## Quick start with DJL"));
        assertThat(snippet.split(Pattern.quote(DOCUMENTED_VERSION), -1)).as("the snippet names the version once").hasSize(2);
        assertThat(program).contains("public class QuickStart");

        Path repository = dir.resolve("repository");
        linkUserRepository(Path.of(System.getProperty("maven.repo.local")), repository);
        try {
            buildAndRun(dir, repository, snippet, program);
        } finally {
            unlink(repository);
        }
    }

    private void buildAndRun(Path dir, Path repository, String snippet, String program) throws Exception {
        install(repository, "peft4j-bom", root.resolve("peft4j-bom/pom.xml"), null);
        install(repository, "peft4j-parent", root.resolve("pom.xml"), null);
        for (String module : List.of("peft-api", "peft-djl", "peft-tribuo")) {
            install(repository, module, root.resolve(module).resolve("pom.xml"),
                    root.resolve(module).resolve("target").resolve(module + "-" + version + ".jar"));
        }

        Path project = dir.resolve("quickstart");
        Files.createDirectories(project.resolve("src/main/java"));
        Files.writeString(project.resolve("pom.xml"), projectPom(snippet.replace(DOCUMENTED_VERSION,
                "<version>" + version + "</version>")));
        Files.writeString(project.resolve("src/main/java/QuickStart.java"), program);

        String mvn = Path.of(System.getProperty("maven.home"), "bin", "mvn").toString();
        run(project, 600, mvn, "-B", "-q", "-o", "-Dmaven.repo.local=" + repository, "compile",
                "dependency:build-classpath", "-Dmdep.outputFile=classpath.txt");
        String classpath = "target/classes" + java.io.File.pathSeparator
                + Files.readString(project.resolve("classpath.txt")).trim();
        assertThat(classpath).doesNotContain("tribuo").doesNotContain("onnxruntime").doesNotContain("langchain4j-core");

        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String output = run(project, 600, java, "-Dai.djl.offline=true", "-cp", classpath, "QuickStart");
        assertThat(output).contains("trainable params: 222,338 || all params:");
        assertThat(lossAt(output, 10)).isLessThan(lossAt(output, 1));
        assertThat(project.resolve("out/spam-lora/adapter_config.json")).isRegularFile();
        assertThat(project.resolve("out/spam-lora/adapter_model.safetensors")).isRegularFile();
    }

    /** The first fenced block of {@code language} at or after {@code from}. */
    private static String firstBlock(String markdown, String language, int from) {
        Matcher m = BLOCK.matcher(markdown);
        while (m.find(from)) {
            if (m.group(1).equals(language)) {
                return m.group(2);
            }
            from = m.end();
        }
        throw new AssertionError("README.md has no ```" + language + " block after offset " + from);
    }

    private static double lossAt(String output, int step) {
        Matcher m = Pattern.compile("step " + step + ": loss ([0-9.]+)").matcher(output);
        assertThat(m.find()).as("the quick start printed step " + step + "'s loss:\n" + output).isTrue();
        return Double.parseDouble(m.group(1));
    }

    private static String projectPom(String snippet) {
        return String.join("\n",
                "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">",
                "  <modelVersion>4.0.0</modelVersion>",
                "  <groupId>com.example</groupId>",
                "  <artifactId>quickstart</artifactId>",
                "  <version>1.0</version>",
                "  <properties>",
                "    <maven.compiler.release>17</maven.compiler.release>",
                "    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>",
                "  </properties>",
                snippet,
                "  <build><plugins>",
                "    <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>",
                "    <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.14.0</version></plugin>",
                "    <plugin><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>",
                "  </plugins></build>",
                "</project>");
    }

    /**
     * Makes {@code repository} a view of the user's local repository without peft4j: every entry is
     * a link, except {@code org/peft4j}, which {@link #install} fills from this build.
     */
    private static void linkUserRepository(Path userRepository, Path repository) throws IOException {
        Files.createDirectories(repository.resolve("org"));
        try (Stream<Path> top = Files.list(userRepository)) {
            for (Path entry : top.toList()) {
                if (!entry.getFileName().toString().equals("org")) {
                    Files.createSymbolicLink(repository.resolve(entry.getFileName().toString()), entry);
                }
            }
        }
        try (Stream<Path> orgs = Files.list(userRepository.resolve("org"))) {
            for (Path entry : orgs.toList()) {
                if (!entry.getFileName().toString().equals("peft4j")) {
                    Files.createSymbolicLink(repository.resolve("org").resolve(entry.getFileName().toString()), entry);
                }
            }
        }
    }

    /** Removes the links {@link #linkUserRepository} made (JUnit would warn about each). */
    private static void unlink(Path repository) throws IOException {
        for (Path level : List.of(repository, repository.resolve("org"))) {
            try (Stream<Path> entries = Files.list(level)) {
                for (Path entry : entries.toList()) {
                    if (Files.isSymbolicLink(entry)) {
                        Files.delete(entry);
                    }
                }
            }
        }
    }

    /** Puts one artifact of this build where a local repository keeps it. */
    private void install(Path repository, String artifactId, Path pom, Path jar) throws IOException {
        Path dir = repository.resolve("org/peft4j").resolve(artifactId).resolve(version);
        Files.createDirectories(dir);
        Files.copy(pom, dir.resolve(artifactId + "-" + version + ".pom"));
        if (jar != null) {
            assertThat(jar).as("this build's jar (run the whole build: mvn verify)").isRegularFile();
            Files.copy(jar, dir.resolve(artifactId + "-" + version + ".jar"));
        }
    }

    /** Runs a command in {@code dir}; returns its output, failing with it if the command fails. */
    private static String run(Path dir, int timeoutSeconds, String... command) throws Exception {
        List<String> line = new ArrayList<>(List.of(command));
        Process process = new ProcessBuilder(line).directory(dir.toFile()).redirectErrorStream(true).start();
        Path log = Files.createTempFile(dir, "output", ".txt");
        Thread copier = new Thread(() -> {
            try {
                Files.copy(process.getInputStream(), log, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        copier.start();
        boolean finished = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!finished) {
            process.destroyForcibly();
        }
        copier.join();
        String output = Files.readString(log);
        assertThat(finished).as("%s finished within %d s:%n%s", line, timeoutSeconds, output).isTrue();
        assertThat(process.exitValue()).as("exit status of %s:%n%s", line, output).isZero();
        return output;
    }
}
