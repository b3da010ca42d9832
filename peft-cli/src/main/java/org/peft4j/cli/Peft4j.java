package org.peft4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import org.peft4j.api.AdapterFormatException;
import org.peft4j.api.safetensors.SafeTensorsFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code peft4j} command: fine-tunes a text classifier from a YAML config and uses what it
 * trained. Commands: {@code train}, {@code eval}, {@code predict}, {@code export}, and the adapter
 * algebra {@code merge-adapters} and {@code extract-lora}, and {@code generate} and {@code chat}
 * with a causal language model; each has
 * {@code --help}, and {@code peft4j --version} prints the version.
 *
 * <p>Exit status: 0 on success; 2 on bad input (a bad option, config, dataset or run directory),
 * with one message that says what and where; 1 on any other failure (such as a diverged run). No
 * stack trace is printed.
 */
@Command(name = "peft4j", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        synopsisSubcommandLabel = "COMMAND",
        description = "Parameter-efficient fine-tuning of text classifiers: LoRA, prefix-tuning, prompt-tuning.",
        footer = {"", "Run 'peft4j COMMAND --help' for a command's options.",
                "Exit status: 0 success, 2 bad input, 1 other failure."})
public final class Peft4j implements Runnable {
    /** Exit status for bad input. */
    static final int BAD_INPUT = 2;
    /** Exit status for any other failure. */
    static final int FAILURE = 1;

    @Spec
    private CommandSpec spec;

    /** Where the commands print results (out) and progress and messages (err), and read what is typed (in). */
    record Console(PrintStream out, PrintStream err, InputStream in) {
        /** A console that reads standard input. */
        Console(PrintStream out, PrintStream err) {
            this(out, err, System.in);
        }
    }

    private Peft4j() {}

    /** Runs the command and exits with its status. */
    public static void main(String[] args) {
        System.exit(run(args, new Console(System.out, System.err)));
    }

    /** Runs one command; returns the exit status. */
    static int run(String[] args, Console console) {
        CommandLine commandLine = new CommandLine(new Peft4j())
                .addSubcommand(new TrainCommand(console))
                .addSubcommand(new EvalCommand(console))
                .addSubcommand(new PredictCommand(console))
                .addSubcommand(new ExportCommand(console))
                .addSubcommand(new MergeAdaptersCommand(console))
                .addSubcommand(new ExtractLoraCommand(console))
                .addSubcommand(new GenerateCommand(console))
                .addSubcommand(new ChatCommand(console))
                .setOut(new PrintWriter(console.out(), true, StandardCharsets.UTF_8))
                .setErr(new PrintWriter(console.err(), true, StandardCharsets.UTF_8))
                .setExecutionExceptionHandler((e, command, parsed) -> {
                    command.getErr().println("peft4j " + command.getCommandName() + ": " + message(e));
                    return isBadInput(e) ? BAD_INPUT : FAILURE;
                });
        commandLine.getSubcommands().get("train").getCommandSpec().usageMessage().footer("", "Config keys: "
                + String.join(", ", TrainArguments.knownKeys()) + ".");
        return commandLine.execute(args);
    }

    /** Without a command: asks for one. */
    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "missing command: train, eval, predict, export, merge-adapters, extract-lora, generate or chat");
    }

    /** Whether {@code e} reports bad input rather than a failure of the run. */
    static boolean isBadInput(Throwable e) {
        return e instanceof IllegalArgumentException || e instanceof AdapterFormatException
                || e instanceof SafeTensorsFormatException;
    }

    /** A one-line message: the exception's own for expected failures, with its type for the unexpected. */
    static String message(Throwable e) {
        Throwable shown = e instanceof UncheckedIOException && e.getCause() != null ? e.getCause() : e;
        if (shown instanceof IllegalArgumentException || shown instanceof IllegalStateException
                || shown instanceof AdapterFormatException || shown instanceof SafeTensorsFormatException) {
            return shown.getMessage();
        }
        return shown.toString();
    }

    /** The version of the jar, written into a resource at build time. */
    static final class Version implements CommandLine.IVersionProvider {
        /** The resource that holds {@code version=...}. */
        static final String RESOURCE = "/org/peft4j/cli/version.properties";

        @Override
        public String[] getVersion() throws IOException {
            Properties properties = new Properties();
            try (InputStream in = Peft4j.class.getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IOException(RESOURCE + " is missing from the peft-cli jar");
                }
                properties.load(in);
            }
            return new String[] {"peft4j " + properties.getProperty("version")};
        }
    }
}
