package org.peft4j.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Checks the built site: every page opened in headless Chromium ({@code check/check-site.sh}:
 * broken links, missing images, pages that do not render, the licence footer, the layout rules of
 * the guides), and the Javadoc's overview and links. An integration test, run by failsafe after the
 * site is built, so {@code -DskipTests} and {@code -Dmaven.test.skip} skip the browser and npm along
 * with it.
 */
class SiteCheckIT {
    private static final Path APIDOCS = Path.of("target", "site", "apidocs");
    /** A row of the overview's package table: the package's link, then its description cell. */
    private static final Pattern PACKAGE_ROW = Pattern.compile(
            "(?s)<div class=\"col-first[^\"]*\"><a href=\"[^\"]*package-summary\\.html\">([\\w.]+)</a></div>\\s*"
                    + "<div class=\"col-last[^\"]*\">(.*?)</div>\\s*(?=<div class=\"col-first|</div>)");

    @Test
    void everyPagePassesTheChromiumCheck() throws IOException, InterruptedException {
        Process check = new ProcessBuilder("bash", Path.of("check", "check-site.sh").toString(),
                Path.of("target", "site").toString()).redirectErrorStream(true).start();
        String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = check.waitFor();
        System.out.print(output);
        assertThat(status).as("check/check-site.sh target/site exited with %d:%n%s", status, output).isZero();
    }

    /**
     * The workflow that publishes this site on a release tag cannot run here, so it is linted:
     * yamllint and actionlint ({@code .github/lint/check-workflows.sh}).
     */
    @Test
    void thePublishingWorkflowPassesYamllintAndActionlint() throws IOException, InterruptedException {
        Process check = new ProcessBuilder("bash", Path.of("..", ".github", "lint", "check-workflows.sh").toString())
                .redirectErrorStream(true).start();
        String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = check.waitFor();
        assertThat(status).as(".github/lint/check-workflows.sh exited with %d:%n%s", status, output).isZero();
        assertThat(output).contains("0 finding(s)");
    }

    @Test
    void theOverviewListsEveryPublicPackageWithItsDescriptionAndNoInternalOne() throws IOException {
        String overview = Files.readString(APIDOCS.resolve("index.html"), StandardCharsets.UTF_8);
        Map<String, String> descriptions = new TreeMap<>();
        Matcher row = PACKAGE_ROW.matcher(overview);
        while (row.find()) {
            descriptions.put(row.group(1), row.group(2).replaceAll("<[^>]+>|&nbsp;", "").strip());
        }
        assertThat(descriptions.keySet()).as("the packages in the Javadoc overview").isEqualTo(publicPackages());
        List<String> empty = new ArrayList<>();
        descriptions.forEach((name, text) -> {
            if (text.isEmpty()) {
                empty.add(name);
            }
        });
        assertThat(empty).as("packages shown without a description").isEmpty();
    }

    @Test
    void djlAndTribuoTypesLinkToTheirJavadoc() throws IOException {
        String djl = "https://javadoc.io/doc/ai.djl/api/" + System.getProperty("djl.version") + "/";
        String tribuo = "https://javadoc.io/doc/org.tribuo/tribuo-core/" + System.getProperty("tribuo.version") + "/";
        assertThat(Files.readString(APIDOCS.resolve("org/peft4j/djl/Peft.html")))
                .contains("href=\"" + djl + "ai/djl/nn/Block.html\"");
        assertThat(Files.readString(APIDOCS.resolve("org/peft4j/tribuo/TribuoPeft.html")))
                .contains("href=\"" + tribuo + "org/tribuo/Trainer.html\"");
    }

    /** The packages of the modules the Javadoc covers that hold a Java type and are not internal. */
    private static TreeSet<String> publicPackages() throws IOException {
        TreeSet<String> packages = new TreeSet<>();
        for (String module : List.of("peft-api", "peft-djl", "peft-tribuo", "peft-spark", "peft-cli")) {
            Path root = Path.of("..", module, "src", "main", "java");
            try (Stream<Path> files = Files.walk(root)) {
                files.filter(p -> p.toString().endsWith(".java") && !p.endsWith("package-info.java"))
                        .map(p -> root.relativize(p.getParent()))
                        .filter(dir -> !PublicTypesDocumentedTest.isInternal(dir))
                        .forEach(dir -> packages.add(dir.toString().replace('/', '.')));
            }
        }
        return packages;
    }
}
