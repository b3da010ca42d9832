package org.peft4j.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Opens every page of the built site in headless Chromium ({@code check/check-site.sh}): broken
 * links, missing images, pages that do not render, and the layout rules of the guides. An
 * integration test, run by failsafe after the site is built, so {@code -DskipTests} and
 * {@code -Dmaven.test.skip} skip the browser and npm along with it.
 */
class SiteCheckIT {
    @Test
    void everyPagePassesTheChromiumCheck() throws IOException, InterruptedException {
        Process check = new ProcessBuilder("bash", Path.of("check", "check-site.sh").toString(),
                Path.of("target", "site").toString()).redirectErrorStream(true).start();
        String output = new String(check.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status = check.waitFor();
        System.out.print(output);
        assertThat(status).as("check/check-site.sh target/site exited with %d:%n%s", status, output).isZero();
    }
}
