package org.peft4j.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every public package of every module has a description and every public type a Javadoc comment
 * (doclint, run by the site's Javadoc build, checks everything else but is told to skip missing
 * comments on members). Packages named {@code *.internal} are implementation, left out of the
 * Javadoc, and so left out here.
 */
class PublicTypesDocumentedTest {
    private static final List<String> MODULES = List.of("peft-api", "peft-djl", "peft-tribuo", "peft-spark", "peft-cli", "site");
    private static final Pattern PUBLIC_TYPE = Pattern.compile(
            "^\\s*public\\s+(?:(?:static|final|abstract|sealed)\\s+)*(?:class|interface|record|enum|@interface)\\s+(\\w+)",
            Pattern.MULTILINE);
    /** A package-info's Javadoc comment, then the package declaration. */
    private static final Pattern PACKAGE_COMMENT = Pattern.compile("(?s)/\\*\\*(.*?)\\*/\\s*package\\s+([\\w.]+)\\s*;");
    /** The shortest description that says something: a sentence of a few words at least. */
    private static final int MIN_DESCRIPTION = 80;

    @Test
    void everyPublicTypeHasAJavadocComment() throws IOException {
        List<String> undocumented = new ArrayList<>();
        int types = 0;
        for (Path file : publicSources()) {
            String source = Files.readString(file);
            Matcher m = PUBLIC_TYPE.matcher(source);
            while (m.find()) {
                types++;
                // the text before the declaration, after its annotations, must end a /** ... */ comment
                String before = source.substring(0, m.start()).replaceAll("(?s)(\\s*@\\w+(\\([^)]*\\))?)+\\s*$", "");
                if (!before.stripTrailing().endsWith("*/") || before.lastIndexOf("/**") < before.lastIndexOf("/*")) {
                    undocumented.add(file + ": " + m.group(1));
                }
            }
        }
        assertThat(types).isGreaterThan(80);
        assertThat(undocumented).isEmpty();
    }

    @Test
    void everyPublicPackageHasADescription() throws IOException {
        Set<Path> packages = new TreeSet<>();
        for (Path file : publicSources()) {
            packages.add(file.getParent());
        }
        List<String> undescribed = new ArrayList<>();
        for (Path dir : packages) {
            String problem = describes(dir);
            if (problem != null) {
                undescribed.add(dir + ": " + problem);
            }
        }
        assertThat(packages).hasSizeGreaterThan(15);
        assertThat(undescribed).as("packages without a description in package-info.java").isEmpty();
    }

    @Test
    void aPackageWithoutADescriptionIsFound(@TempDir Path dir) throws IOException {
        Path pkg = Files.createDirectories(dir.resolve("org/example"));
        Files.writeString(pkg.resolve("Thing.java"), "package org.example;\n/** A thing. */\npublic class Thing {}\n");
        assertThat(describes(pkg)).isEqualTo("no package-info.java");
        Files.writeString(pkg.resolve("package-info.java"), "package org.example;\n");
        assertThat(describes(pkg)).isEqualTo("package-info.java has no Javadoc comment before its package declaration");
        Files.writeString(pkg.resolve("package-info.java"), "/** Things. */\npackage org.example;\n");
        assertThat(describes(pkg)).startsWith("the description is 7 characters");
        Files.writeString(pkg.resolve("package-info.java"), "/**\n * Things that an example needs: one of them, with the"
                + " fields every example has, and nothing more.\n */\npackage org.example;\n");
        assertThat(describes(pkg)).isNull();
    }

    @Test
    void internalPackagesAreThoseNamedInternalAndTheirSubpackages() {
        assertThat(isInternal(Path.of("org/peft4j/djl/internal"))).isTrue();
        assertThat(isInternal(Path.of("org/peft4j/djl/internal/bert"))).isTrue();
        assertThat(isInternal(Path.of("org/peft4j/djl/internals"))).isFalse();
        assertThat(isInternal(Path.of("org/peft4j/djl"))).isFalse();
    }

    /** Why the package in {@code dir} has no description, or null if it has one. */
    private static String describes(Path dir) throws IOException {
        Path info = dir.resolve("package-info.java");
        if (!Files.exists(info)) {
            return "no package-info.java";
        }
        Matcher m = PACKAGE_COMMENT.matcher(Files.readString(info));
        if (!m.find()) {
            return "package-info.java has no Javadoc comment before its package declaration";
        }
        String text = m.group(1).replaceAll("(?m)^\\s*\\*", " ").replaceAll("\\s+", " ").strip();
        if (text.length() < MIN_DESCRIPTION) {
            return "the description is " + text.length() + " characters (\"" + text + "\"); write a paragraph of at least "
                    + MIN_DESCRIPTION;
        }
        return null;
    }

    /** The main Java sources of every module, less those in {@code *.internal} packages. */
    private static List<Path> publicSources() throws IOException {
        List<Path> sources = new ArrayList<>();
        for (String module : MODULES) {
            Path root = Path.of("..", module, "src", "main", "java");
            try (Stream<Path> files = Files.walk(root)) {
                files.filter(p -> p.toString().endsWith(".java"))
                        .filter(p -> !p.getFileName().toString().equals("package-info.java"))
                        .filter(p -> !isInternal(root.relativize(p.getParent())))
                        .forEach(sources::add);
            }
        }
        return sources;
    }

    /** Whether a package directory (relative to its source root) is an internal package or inside one. */
    static boolean isInternal(Path packageDir) {
        for (Path part : packageDir) {
            if (part.toString().equals("internal")) {
                return true;
            }
        }
        return false;
    }
}
