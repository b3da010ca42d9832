package org.peft4j.cli;

import ai.djl.Model;
import ai.djl.ndarray.NDManager;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.peft4j.api.data.chat.ChatMessage;
import org.peft4j.api.data.chat.Conversation;
import org.peft4j.djl.Peft;
import org.peft4j.djl.chat.NamedTemplate;
import org.peft4j.djl.generation.GenerationConfig;
import org.peft4j.djl.generation.Generator;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code peft4j chat --model DIR [--adapter DIR]}: an interactive chat in the terminal, as
 * LLaMA-Factory's {@code chat}: each line read is the user's message, the conversation so far is
 * printed with the chat template (the model's own, or {@code --template}) and the answer is
 * streamed as it is generated and kept in the history. {@code /clear} forgets the history,
 * {@code /exit} (or the end of the input) ends the chat.
 */
@Command(name = "chat", mixinStandardHelpOptions = true, versionProvider = Peft4j.Version.class,
        description = "Chat with a causal language model and an optional adapter (/clear forgets, /exit ends).")
final class ChatCommand implements Callable<Integer> {
    /** Forgets the conversation so far. */
    static final String CLEAR = "/clear";
    /** Ends the chat. */
    static final String EXIT = "/exit";

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "a Hugging Face model directory (config.json, model.safetensors, tokenizer.json)")
    private Path model;

    @Option(names = "--adapter", paramLabel = "DIR", description = "a PEFT adapter directory (task_type CAUSAL_LM)")
    private Path adapter;

    @Option(names = "--template", paramLabel = "NAME",
            description = "a chat format LLaMA-Factory names (alpaca, chatml, default, empty, llama3, qwen); default: the"
                    + " model's own chat template")
    private String template;

    @Option(names = "--system", paramLabel = "TEXT", description = "the system prompt")
    private String system = "";

    @Mixin
    private GenerationOptions options = new GenerationOptions();

    private final Peft4j.Console console;

    ChatCommand(Peft4j.Console console) {
        this.console = console;
    }

    @Override
    public Integer call() throws Exception {
        NamedTemplate named = template != null ? NamedTemplate.of(template) : null;
        PrintStream out = console.out();
        try (Model holder = Model.newInstance("peft4j-chat");
                SftRun.Decoder decoder = SftRun.loadDecoder(model, named, holder)) {
            if (adapter != null) {
                Peft.load(decoder.model(), adapter);
            }
            GenerationConfig config = options.apply(decoder.generation());
            Generator generator = new Generator(decoder.model(), config);
            BufferedReader in = new BufferedReader(new InputStreamReader(console.in(), StandardCharsets.UTF_8));
            List<ChatMessage> history = new ArrayList<>();
            out.println("Type a message; " + CLEAR + " forgets the conversation, " + EXIT + " ends it.");
            while (true) {
                out.print("\nUser: ");
                out.flush();
                String line = in.readLine();
                if (line == null || line.strip().equals(EXIT)) {
                    break;
                }
                if (line.strip().equals(CLEAR)) {
                    history.clear();
                    out.println("History has been removed.");
                    continue;
                }
                history.add(ChatMessage.user(line));
                String prompt = decoder.template().render(new Conversation(system, history).withSystem(), true);
                long[] ids = decoder.tokenizer().encodeWithoutSpecialTokens(prompt);
                out.print("Assistant: ");
                long[] answer;
                try (NDManager scope = holder.getNDManager().newSubManager()) {
                    answer = generator.generate(scope, ids, decoder.tokenizer().streamer(out::print));
                }
                out.println();
                history.add(ChatMessage.assistant(decoder.tokenizer().decode(answer)));
            }
        }
        return 0;
    }
}
