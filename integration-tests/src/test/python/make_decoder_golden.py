"""Golden files for peft4j's causal language models, made by the real Hugging Face libraries.

    python make_decoder_golden.py OUT_DIR

writes into OUT_DIR, for each family in FAMILIES (LLaMA with grouped-query attention and an
untied output layer, Qwen2 with q/k/v biases and tied embeddings, GPT-2 with learned positions,
Conv1D projections and a tied output layer):
  <name>/model/        a tiny random *ForCausalLM (2 layers, hidden 64, 4 query heads sharing 2
                       key/value heads; GPT2LMHeadModel: 2 layers, n_embd 64, 4 heads) saved by
                       transformers' save_pretrained, with a WordLevel tokenizer.json
  <name>/lora/         a LoRA adapter (task_type CAUSAL_LM, PEFT's default targets for the family)
                       saved by PEFT's save_pretrained, its B matrices moved away from zero
  <name>/prompt/, <name>/prefix/, <name>/prefix-projection/
                       for the VIRTUAL_TOKEN_FAMILIES (llama, gpt2): prompt-tuning (4 virtual
                       tokens) and prefix-tuning (3, without and with the projection MLP) adapters,
                       task_type CAUSAL_LM, saved by PEFT, with their logits under "virtual"
  golden.json          the inputs (a batch of two sequences, the second left-padded, with
                       attention_mask and position_ids as generate() computes them), the logits of
                       each base model and adapter in eval mode, greedy generation from one prompt
                       (with and without the adapter),
                       the next-token scores of that prompt before and after generate()'s logits
                       processors for the SAMPLING settings (null where a token is removed), and the
                       library versions

peft4j's DecoderGoldenTest loads every file with Java and must reproduce the logits.

The output is the same on every run with the same library versions (seeded): to add files, write
into a scratch directory and copy only the new ones (and golden.json) over the committed ones,
then check with git diff that nothing else changed.
"""
import json
import os
import shutil
import sys

import peft
import torch
import transformers
from peft import LoraConfig, PrefixTuningConfig, PromptTuningConfig, get_peft_model
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast,
                          Qwen2Config, Qwen2ForCausalLM)

WORDS = ["<pad>", "<s>", "</s>", "<unk>"] + ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park",
                                              "what", "is", "answer", "yes", "no", "?", "."]
SIZES = dict(vocab_size=len(WORDS), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
             num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6,
             bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=0.2)
FAMILIES = {
    "llama": (LlamaConfig, LlamaForCausalLM, dict(SIZES, tie_word_embeddings=False, rope_theta=10000.0)),
    "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(SIZES, tie_word_embeddings=True, rope_theta=1000.0)),
    # GPT-2 names its sizes itself; PEFT's default LoRA target is c_attn, a Conv1D (fan_in_fan_out)
    "gpt2": (GPT2Config, GPT2LMHeadModel, dict(vocab_size=len(WORDS), n_embd=64, n_layer=2, n_head=4, n_inner=None,
                                               n_positions=64, layer_norm_epsilon=1e-5, activation_function="gelu_new",
                                               bos_token_id=1, eos_token_id=2, pad_token_id=0, initializer_range=0.2)),
}
# the families whose prompt- and prefix-tuning adapters are written (GPT-2: n_head heads of n_embd / n_head)
VIRTUAL_TOKEN_FAMILIES = ("llama", "gpt2")
IDS = [[1, 4, 5, 6, 7, 4, 8, 17, 2], [1, 14, 15, 4, 16, 13, 14, 15, 17]]
PAD_LEFT = 3  # the second row keeps its last 6 tokens, after 3 pads
SAMPLING = dict(do_sample=True, repetition_penalty=1.3, temperature=0.7, top_k=5, top_p=0.9)


def tokenizer(directory):
    """A whitespace WordLevel tokenizer over WORDS, saved as transformers saves one."""
    word_level = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=word_level, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>")
    fast.save_pretrained(directory)


def inputs():
    ids = torch.tensor([IDS[0], [0] * PAD_LEFT + IDS[1][PAD_LEFT:]])
    mask = torch.ones_like(ids)
    mask[1, :PAD_LEFT] = 0
    # generate()'s position ids under left padding (GenerationMixin: cumsum of the mask, minus 1, pads at 1)
    positions = mask.long().cumsum(-1) - 1
    positions.masked_fill_(mask == 0, 1)
    return ids, mask, positions


def virtual_token_adapters(model, out, ids, mask):
    """Prompt- and prefix-tuning adapters (CAUSAL_LM) and their logits on the real positions.

    PeftModelForCausalLM.forward ignores position_ids for prompt learning, so none are passed:
    positions count from the first virtual token (peft_model.py, PeftModelForCausalLM.forward).
    """
    results = {}
    configs = {"prompt": PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=4),
               "prefix": PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3),
               "prefix-projection": PrefixTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3,
                                                       prefix_projection=True, encoder_hidden_size=24)}
    for adapter, config in configs.items():
        torch.manual_seed(13)
        peft_model = get_peft_model(model, config).eval()
        peft_model.save_pretrained(os.path.join(out, adapter))
        os.remove(os.path.join(out, adapter, "README.md"))
        with torch.no_grad():
            logits = peft_model(input_ids=ids, attention_mask=mask).logits
        n = config.num_virtual_tokens
        results[adapter] = (logits[:, n:, :] if adapter == "prompt" else logits).tolist()
        model = peft_model.unload() if hasattr(peft_model, "unload") else peft_model.base_model
    return results


def processed_scores(model, prompt):
    """The prompt's next-token logits, and the scores after the processors generate() builds for SAMPLING."""
    generation_config, _ = model._prepare_generation_config(None, **SAMPLING)
    processors = model._get_logits_processor(generation_config=generation_config,
                                             input_ids_seq_length=prompt.shape[1], device=prompt.device,
                                             model_kwargs={})
    with torch.no_grad():
        logits = model(prompt).logits[:, -1].float()
        scores = processors(prompt, logits.clone())
    return ([type(p).__name__ for p in processors], logits[0].tolist(),
            [None if s == float("-inf") else s for s in scores[0].tolist()])


def main(out):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    ids, mask, positions = inputs()
    golden = {"versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "peft": peft.__version__},
              "input_ids": ids.tolist(), "attention_mask": mask.tolist(), "position_ids": positions.tolist(),
              "prompt": IDS[1][:6], "sampling": SAMPLING, "families": {}}
    for name, (config_class, model_class, sizes) in FAMILIES.items():
        torch.manual_seed(7)
        model = model_class(config_class(**sizes)).eval()
        with torch.no_grad():
            # transformers starts biases at 0 and norm scales at 1; move them so that they count
            for param_name, param in model.named_parameters():
                if param_name.endswith("bias") or "norm" in param_name or ".ln_" in param_name:
                    param.add_(torch.randn(param.shape) * 0.1)
        model_dir = os.path.join(out, name, "model")
        model.save_pretrained(model_dir)
        tokenizer(model_dir)
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            greedy = model.generate(torch.tensor([golden["prompt"]]), max_new_tokens=8, do_sample=False,
                                    eos_token_id=None, pad_token_id=0)
        golden["logits_processors"], next_logits, scores = processed_scores(model, torch.tensor([golden["prompt"]]))
        peft_model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8))
        with torch.no_grad():
            g = torch.Generator().manual_seed(11)
            for param_name, param in peft_model.named_parameters():
                if "lora_B" in param_name:
                    param.copy_(torch.randn(param.shape, generator=g) * 0.3)
        peft_model.eval()
        peft_model.save_pretrained(os.path.join(out, name, "lora"))
        os.remove(os.path.join(out, name, "lora", "README.md"))
        with torch.no_grad():
            lora_logits = peft_model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
            lora_greedy = peft_model.generate(input_ids=torch.tensor([golden["prompt"]]), max_new_tokens=8,
                                              do_sample=False, eos_token_id=None, pad_token_id=0)
        golden["families"][name] = {"logits": logits.tolist(), "greedy": greedy[0].tolist(),
                                    "lora_logits": lora_logits.tolist(),
                                    "lora_targets": sorted(peft_model.peft_config["default"].target_modules),
                                    "lora_fan_in_fan_out": peft_model.peft_config["default"].fan_in_fan_out,
                                    "lora_greedy": lora_greedy[0].tolist(),
                                    "next_token_logits": next_logits, "processed_scores": scores}
        if name in VIRTUAL_TOKEN_FAMILIES:
            golden["families"][name]["virtual"] = virtual_token_adapters(model_class.from_pretrained(model_dir),
                                                                        os.path.join(out, name), ids, mask)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(golden, f)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
