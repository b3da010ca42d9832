package org.peft4j.it;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The options of the main job and the benchmark: parsed by picocli, listed by --help, bad ones refused. */
class CommandOptionsTest {
    @Test
    void theMainJobTakesItsOptionsAndKeepsItsDefaults() {
        SpamFineTune.Options o = new SpamFineTune.Options();
        new CommandLine(o).parseArgs("--method", "prompt", "--epochs", "3", "--lr", "0.01", "--out", "target/x");
        assertThat(o.method).isEqualTo("prompt");
        assertThat(o.epochs).isEqualTo(3);
        assertThat(o.lr).isEqualTo(0.01f);
        assertThat(o.out).isEqualTo(Path.of("target/x"));
        assertThat(o.batch).isEqualTo(16);
        assertThat(o.trainLimit).isEqualTo(Integer.MAX_VALUE);
        assertThat(SpamFineTune.learningRate(o)).isEqualTo(0.01f);
    }

    @Test
    void helpListsTheOptionsAndBadOnesExitWithTwo() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine job = new CommandLine(new SpamFineTune.Options()).setOut(new PrintWriter(out))
                .setErr(new PrintWriter(err));
        assertThat(job.execute("--help")).isZero();
        assertThat(out.toString()).contains("--train-limit=N", "--virtual-tokens", "(default: 16)");
        assertThat(job.execute("--epochs", "two")).isEqualTo(2);
        assertThat(err.toString()).contains("Invalid value for option '--epochs': 'two' is not an int");
        assertThat(job.execute("--epoch", "2")).isEqualTo(2);
        assertThat(err.toString()).contains("Unknown options: '--epoch'", "Possible solutions: --epochs");

        StringWriter benchmarkHelp = new StringWriter();
        assertThat(new CommandLine(new Benchmark()).setOut(new PrintWriter(benchmarkHelp)).execute("--help")).isZero();
        assertThat(benchmarkHelp.toString()).contains("--train-rows=N", "(default: 2048)", "--timed-steps=N");
    }
}
