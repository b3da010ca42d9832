package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The Tribuo benchmark on a few hundred rows: its options, its twelve rows and both result files. */
class TribuoBenchmarkTest {
    @Test
    void aSmallRunWritesEveryRowAndPeft4jsTrainersReachTheirAccuracy(@TempDir Path out) throws Exception {
        StringWriter help = new StringWriter();
        assertThat(new CommandLine(new TribuoBenchmark()).setOut(new PrintWriter(help)).execute("--help")).isZero();
        assertThat(help.toString()).contains("--rows=N", "(default: 50000)", "--minibatch=N,N", "(default: 7)");

        int status = new CommandLine(new TribuoBenchmark()).execute("--rows", "400", "--features", "8", "--classes", "3",
                "--runs", "1", "--warmup", "0", "--out", out.toString());
        assertThat(status).isZero();
        JsonNode results = new ObjectMapper().readTree(out.resolve("tribuo-results.json").toFile()).get("results");
        assertThat(results).hasSize(12);
        for (JsonNode row : results) {
            if (!row.get("trainer").asText().startsWith("Tribuo")) {
                assertThat(row.has("failure")).as(row.toString()).isFalse();
                assertThat(row.get("test_accuracy").asDouble()).as(row.toString()).isGreaterThan(0.5);
                assertThat(row.get("allocated_mb_median").asDouble()).as(row.toString()).isPositive();
            }
        }
        assertThat(Files.readString(out.resolve("tribuo-results.md"))).contains("| linear | LoRA r=4 | 32 |",
                "| fm | warm start | 1 |");
    }
}
