package org.peft4j.djl.sft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.peft4j.api.TargetModules;
import org.peft4j.api.data.chat.ChatMessage;
import org.peft4j.api.data.chat.Conversation;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.djl.Peft;
import org.peft4j.djl.PeftModel;
import org.peft4j.djl.chat.ChatTemplate;
import org.peft4j.djl.internal.StateDicts;
import org.peft4j.djl.models.llama.LlamaConfig;
import org.peft4j.djl.models.llama.LlamaForCausalLM;
import org.peft4j.djl.train.FineTuning;
import org.peft4j.djl.train.LearningRateSchedule;

/**
 * Supervised fine-tuning: conversations split into prompt and answer by the chat template, labels
 * -100 on prompts, LLaMA-Factory's truncation, the loss against its definition and its gradient on
 * prompt positions, and a LoRA run on a tiny LLaMA that memorises four instruction pairs.
 */
class SftTest {
    /** A chat template whose words are the tokens: role tags, the content, an end tag. */
    private static final ChatTemplate TEMPLATE = ChatTemplate.of("{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }}"
            + " <end> {% endfor %}{% if add_generation_prompt %}<assistant> {% endif %}", Map.of());
    private static final List<String> WORDS = List.of("<pad>", "<system>", "<user>", "<assistant>", "<end>", "what",
            "is", "the", "capital", "of", "france", "italy", "spain", "japan", "paris", "rome", "madrid", "tokyo",
            "city", "be", "brief");
    private static final Map<String, Long> IDS = new HashMap<>();

    static {
        for (int i = 0; i < WORDS.size(); i++) {
            IDS.put(WORDS.get(i), (long) i);
        }
    }

    private static long[] tokenize(String text) {
        return java.util.Arrays.stream(text.trim().split("\\s+")).filter(w -> !w.isEmpty())
                .mapToLong(w -> {
                    Long id = IDS.get(w);
                    if (id == null) {
                        throw new IllegalArgumentException("no token " + w);
                    }
                    return id;
                }).toArray();
    }

    private static long[] ids(String text) {
        return tokenize(text);
    }

    @Test
    void promptsAreIgnoredAndAnswersLearnedTurnByTurn() {
        SftEncoder encoder = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).build();
        Conversation c = new Conversation("be brief", List.of(ChatMessage.user("what is the capital of france"),
                ChatMessage.assistant("paris"), ChatMessage.user("of italy"), ChatMessage.assistant("rome city")));
        SftExample e = encoder.encode(c, "row 0");
        long[] prompt1 = ids("<system> be brief <end> <user> what is the capital of france <end> <assistant>");
        long[] answer1 = ids("paris <end>");
        long[] prompt2 = ids("<user> of italy <end> <assistant>");
        long[] answer2 = ids("rome city <end>");
        assertThat(e.inputIds()).containsExactly(concat(prompt1, answer1, prompt2, answer2));
        assertThat(e.labels()).containsExactly(concat(ignored(prompt1.length), answer1, ignored(prompt2.length), answer2));
        assertThat(e.learnedTokens()).isEqualTo(5);

        SftExample all = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).optTrainOnPrompt(true)
                .build().encode(c, "row 0");
        assertThat(all.labels()).containsExactly(all.inputIds());
    }

    @Test
    void turnsAreCutAsLlamaFactoryCutsThem() {
        // infer_seqlen, worked by hand: an answer under half the budget stays whole and the prompt takes the rest
        assertThat(SftEncoder.inferSeqlen(10, 3, 8)).containsExactly(5, 3);
        // a long answer after a short prompt: the prompt whole, the answer cut
        assertThat(SftEncoder.inferSeqlen(3, 10, 8)).containsExactly(3, 5);
        // both long: in proportion, int(8 * 6 / 12) = 4 each
        assertThat(SftEncoder.inferSeqlen(6, 6, 8)).containsExactly(4, 4);
        SftEncoder encoder = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).optCutoffLen(8).build();
        // prompt "<user> what is the capital of france <end> <assistant>" = 9 tokens, answer "paris <end>" = 2
        SftExample cut = encoder.encode(new Conversation("", List.of(ChatMessage.user("what is the capital of france"),
                ChatMessage.assistant("paris"))), "row 3");
        assertThat(cut.inputIds()).containsExactly(concat(ids("<user> what is the capital of"), ids("paris <end>")));
        assertThat(cut.length()).isEqualTo(8);
    }

    @Test
    void conversationsThatCannotBeLearnedAreRefusedWithTheirRow() {
        SftEncoder encoder = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).optCutoffLen(4).build();
        assertThatThrownBy(() -> encoder.encode(new Conversation("", List.of(ChatMessage.user("what"))), "row 5"))
                .hasMessage("row 5: the conversation ends without an answer to learn");
        // 9 prompt tokens and a 5-token answer within 4: int(4 * 5 / 14) = 1 answer token... and with 3 tokens none
        assertThat(SftEncoder.inferSeqlen(9, 5, 4)).containsExactly(3, 1);
        SftEncoder tiny = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).optCutoffLen(3).build();
        assertThatThrownBy(() -> tiny.encode(new Conversation("", List.of(ChatMessage.user("what is the capital of france"),
                ChatMessage.assistant("paris city city"))), "row 6"))
                .hasMessage("row 6: the first prompt has 9 tokens, which leaves no room for its answer within cutoff_len 3");
        ChatTemplate lastOnly = ChatTemplate.of("{{ messages[-1]['content'] }}", Map.of());
        SftEncoder rewriting = SftEncoder.builder().setTemplate(lastOnly).setTokenizer(SftTest::tokenize).build();
        assertThatThrownBy(() -> rewriting.encode(new Conversation("", List.of(ChatMessage.user("what"),
                ChatMessage.assistant("paris"), ChatMessage.user("of italy"), ChatMessage.assistant("rome"))), "row 7"))
                .hasMessage("row 7: the chat template does not print turn 1 after the earlier ones unchanged, so prompt"
                        + " and answer cannot be told apart");
        ChatTemplate raising = ChatTemplate.of("{{ raise_exception('no system prompts') }}", Map.of());
        SftEncoder failing = SftEncoder.builder().setTemplate(raising).setTokenizer(SftTest::tokenize).build();
        assertThatThrownBy(() -> failing.encode(new Conversation("", List.of(ChatMessage.user("what"),
                ChatMessage.assistant("paris"))), "row 8"))
                .hasMessageStartingWith("row 8: the chat template failed: the template raised: no system prompts");
    }

    @Test
    void theLossIsTheMeanNextTokenCrossEntropyAndPromptPositionsGetNoGradient() {
        try (NDManager manager = NDManager.newBaseManager()) {
            Random random = new Random(5);
            int batch = 2;
            int length = 5;
            int vocab = 7;
            float[] values = new float[batch * length * vocab];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextGaussian();
            }
            long[][] labels = {{-100, -100, 3, 4, -100}, {-100, 6, 0, -100, -100}};
            NDArray logits = manager.create(values, new Shape(batch, length, vocab));
            logits.setRequiresGradient(true);
            NDArray loss;
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                loss = new CausalLmLoss().evaluate(new NDList(manager.create(labels)), new NDList(logits));
                collector.backward(loss);
            }
            // written out: position t predicts label t + 1; four learned labels
            double sum = 0;
            int count = 0;
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t + 1 < length; t++) {
                    long target = labels[b][t + 1];
                    if (target == -100) {
                        continue;
                    }
                    double max = Double.NEGATIVE_INFINITY;
                    for (int v = 0; v < vocab; v++) {
                        max = Math.max(max, values[(b * length + t) * vocab + v]);
                    }
                    double z = 0;
                    for (int v = 0; v < vocab; v++) {
                        z += Math.exp(values[(b * length + t) * vocab + v] - max);
                    }
                    sum -= values[(int) ((b * length + t) * vocab + target)] - max - Math.log(z);
                    count++;
                }
            }
            assertThat(count).isEqualTo(4);
            assertThat(loss.getFloat()).isCloseTo((float) (sum / count), org.assertj.core.data.Offset.offset(1e-5f));
            NDArray gradient = logits.getGradient();
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < length; t++) {
                    boolean predictsALabel = t + 1 < length && labels[b][t + 1] != -100;
                    float norm = gradient.get(new NDIndex("{}, {}, :", b, t)).abs().sum().getFloat();
                    assertThat(norm > 0).as("gradient at row %d position %d", b, t).isEqualTo(predictsALabel);
                }
            }
        }
    }

    @Test
    void loraOnATinyLlamaMemorisesFourInstructionPairs() {
        Engine.getInstance().setRandomSeed(11);
        List<String[]> pairs = List.of(new String[] {"what is the capital of france", "paris"},
                new String[] {"what is the capital of italy", "rome"},
                new String[] {"what is the capital of spain", "madrid city"},
                new String[] {"what is the capital of japan", "tokyo"});
        SftEncoder encoder = SftEncoder.builder().setTemplate(TEMPLATE).setTokenizer(SftTest::tokenize).build();
        List<SftExample> rows = new ArrayList<>();
        for (String[] pair : pairs) {
            rows.add(encoder.encode(new Conversation("", List.of(ChatMessage.user(pair[0]), ChatMessage.assistant(pair[1]))),
                    pair[0]));
        }
        ObjectNode json = new ObjectMapper().createObjectNode().put("model_type", "llama").put("vocab_size", WORDS.size())
                .put("hidden_size", 64).put("intermediate_size", 128).put("num_hidden_layers", 2)
                .put("num_attention_heads", 4).put("num_key_value_heads", 2);
        try (Model model = Model.newInstance("tiny-llama")) {
            LlamaForCausalLM llama = new LlamaForCausalLM(LlamaConfig.fromJson(json, "test"));
            llama.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1));
            model.setBlock(llama);
            Map<String, float[]> before = new LinkedHashMap<>();
            StateDicts.namedParameters(llama).forEach((n, p) -> before.put(n, p.getArray().toFloatArray()));
            PeftModel peft = Peft.apply(llama, LoraConfig.builder().optR(8).optLoraAlpha(16)
                    .setTargetModules("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj").build());
            FineTuning<SftExample> run = new FineTuning<>(model, peft, new CausalLmTask(0));
            double first = run.evaluate(rows, 4).loss();
            run.fit(rows, List.of(), FineTuning.Settings.builder().setEpochs(30).setBatchSize(4).setLearningRate(1e-2f)
                    .optScheduler(LearningRateSchedule.Kind.CONSTANT).optSeed(1).build(), r -> { });
            double last = run.evaluate(rows, 4).loss();
            System.out.printf("SFT on 4 pairs: loss %.4f -> %.4f%n", first, last);
            assertThat(last).isLessThan(0.1).isLessThan(first);
            for (int i = 0; i < pairs.size(); i++) {
                long[] prompt = ids("<user> " + pairs.get(i)[0] + " <end> <assistant>");
                assertThat(greedy(llama, prompt, ids(pairs.get(i)[1] + " <end>").length, model.getNDManager()))
                        .as("answer to %s", pairs.get(i)[0]).containsExactly(ids(pairs.get(i)[1] + " <end>"));
            }
            peft.unload();
            StateDicts.namedParameters(llama).forEach((n, p) -> assertThat(p.getArray().toFloatArray())
                    .as("base weight %s", n).containsExactly(before.get(n)));
        }
    }

    @Test
    void allLinearLeavesOutTheOutputLayerAsPeftDoes() {
        ObjectNode json = new ObjectMapper().createObjectNode().put("model_type", "llama").put("vocab_size", WORDS.size())
                .put("hidden_size", 32).put("intermediate_size", 48).put("num_hidden_layers", 1)
                .put("num_attention_heads", 2).put("num_key_value_heads", 1).put("tie_word_embeddings", false);
        try (Model model = Model.newInstance("tiny-llama")) {
            LlamaForCausalLM llama = new LlamaForCausalLM(LlamaConfig.fromJson(json, "test"));
            llama.initialize(model.getNDManager(), DataType.FLOAT32, new Shape(1, 1));
            PeftModel peft = Peft.apply(llama, LoraConfig.builder().setTargetModules(TargetModules.allLinear()).build());
            Set<String> adapted = new TreeSet<>();
            peft.checkpoint().tensors().keySet().forEach(k -> adapted.add(k.replaceAll("\\.lora_[AB]\\.weight$", "")));
            // peft/tuners/tuners_utils.py 2465: every Linear but get_output_embeddings() (lm_head)
            assertThat(adapted).containsExactly("base_model.model.model.layers.0.mlp.down_proj",
                    "base_model.model.model.layers.0.mlp.gate_proj", "base_model.model.model.layers.0.mlp.up_proj",
                    "base_model.model.model.layers.0.self_attn.k_proj", "base_model.model.model.layers.0.self_attn.o_proj",
                    "base_model.model.model.layers.0.self_attn.q_proj", "base_model.model.model.layers.0.self_attn.v_proj");
        }
    }

    private static long[] greedy(LlamaForCausalLM model, long[] prompt, int steps, NDManager manager) {
        long[] out = new long[steps];
        List<Long> tokens = new ArrayList<>();
        for (long id : prompt) {
            tokens.add(id);
        }
        try (NDManager scope = manager.newSubManager()) {
            for (int i = 0; i < steps; i++) {
                NDArray ids = scope.create(tokens.stream().mapToLong(Long::longValue).toArray(), new Shape(1, tokens.size()));
                out[i] = model.logits(new ParameterStore(scope, false), ids, null, null, null, false)
                        .get(new NDIndex("0, -1, :")).argMax().getLong();
                tokens.add(out[i]);
            }
        }
        return out;
    }

    private static long[] ignored(int n) {
        long[] out = new long[n];
        java.util.Arrays.fill(out, SftExample.IGNORE);
        return out;
    }

    private static long[] concat(long[]... parts) {
        return java.util.Arrays.stream(parts).flatMapToLong(java.util.Arrays::stream).toArray();
    }
}
