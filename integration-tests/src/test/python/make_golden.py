"""Golden files for peft4j's Python interop tests, made by the real Hugging Face libraries.

    python make_golden.py OUT_DIR

writes into OUT_DIR:
  tiny-bert/             a random BertForSequenceClassification (3 labels) saved by transformers'
                         save_pretrained, with a small WordPiece tokenizer saved by BertTokenizerFast
  adapters/<name>/       adapters saved by PEFT's save_pretrained: two LoRA, two prompt-tuning
                         (RANDOM and TEXT init) and two prefix-tuning (with and without the
                         projection MLP), a DoRA (use_dora, with trained-looking magnitudes), every
                         one task_type SEQ_CLS with a trained-looking head; and IA3 on PEFT's
                         default BERT targets (key, value, output.dense, with output.dense
                         feed-forward), its vectors moved away from ones
  golden.json            the inputs (texts, input_ids, attention_mask, token_type_ids), the logits
                         of the base and of each adapter in eval mode, the prompt_embeddings a
                         fresh TEXT init gives, and the library versions

peft4j's GoldenInteropTest loads every file with Java and must reproduce every logit to 1e-5.
The same fixtures let check_java_files.py load what Java writes. Needs torch, transformers, peft,
safetensors and tokenizers; the versions used are recorded in golden.json.
"""
import json
import os
import shutil
import sys

import peft
import tokenizers
import torch
import transformers
from peft import (IA3Config, LoraConfig, PeftModel, PrefixTuningConfig, PromptTuningConfig, PromptTuningInit, TaskType,
                  get_peft_model)
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

WORDS = ["free", "money", "click", "now", "win", "is", "this", "spam", "or", "ham", "call", "me", "tomorrow",
         "the", "meeting", "notes", "cheap", "meds", "a", "patch", "review", "please", "##s", "##ing", "!", "?", ","]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
TEXTS = ["WIN free money, click now!", "Is this spam or ham?", "please review the patch tomorrow"]
LABELS = ["ham", "spam", "unsure"]
PROMPT_TEXT = "is this spam or ham"


def tokenizer(directory):
    """A BERT uncased WordPiece tokenizer over VOCAB, saved as transformers saves one."""
    wordpiece = Tokenizer(models.WordPiece({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=True)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = BertTokenizerFast(tokenizer_object=wordpiece, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
                             cls_token="[CLS]", mask_token="[MASK]", model_max_length=32)
    fast.save_pretrained(directory)
    return fast


def perturb(model, names, seed):
    """Moves the named trainable tensors away from their start, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if any(n in name for n in names):
                p.add_(torch.randn(p.shape, generator=g) * 0.5)


def scale_magnitudes(model, seed):
    """Moves DoRA's magnitudes away from the row norms they start at (by about 30 %), as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_magnitude_vector" in name:
                p.mul_(1 + 0.3 * torch.randn(p.shape, generator=g))


def main(out):
    torch.manual_seed(0)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    os.chdir(out)  # relative paths in the saved configs (tokenizer_name_or_path)
    base_dir = "tiny-bert"
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=32, max_position_embeddings=40, type_vocab_size=2, num_labels=len(LABELS),
                        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    base_model = BertForSequenceClassification(config)
    # a pooler and head far from their tiny initial values, so that the base's logits are not near 0
    perturb(base_model, ["pooler", "classifier"], 99)
    base_model.save_pretrained(base_dir)
    tok = tokenizer(base_dir)
    batch = tok(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=True)

    def base():
        return BertForSequenceClassification.from_pretrained(base_dir).eval()

    def logits(model):
        with torch.no_grad():
            return model(**batch).logits

    golden = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "tokenizers": tokenizers.__version__},
        "inputs": {"texts": TEXTS, **{k: v.tolist() for k, v in batch.items()}},
        "labels": LABELS,
        "logits": {"base": logits(base()).tolist()},
    }
    adapters = {
        "lora": LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["query", "value"],
                           init_lora_weights=False),
        "lora-rslora-all-linear": LoraConfig(task_type=TaskType.SEQ_CLS, r=2, lora_alpha=6, use_rslora=True,
                                             target_modules="all-linear", init_lora_weights=False),
        "prompt-random": PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4,
                                            prompt_tuning_init=PromptTuningInit.RANDOM),
        "prompt-text": PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=9,
                                          prompt_tuning_init=PromptTuningInit.TEXT,
                                          prompt_tuning_init_text=PROMPT_TEXT, tokenizer_name_or_path=base_dir),
        "prefix": PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=3),
        "prefix-projection": PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=3,
                                                prefix_projection=True, encoder_hidden_size=12),
        "ia3": IA3Config(task_type=TaskType.SEQ_CLS),
        "lora-dora": LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["query", "value"],
                                use_dora=True, init_lora_weights=False),
    }
    golden["adapters"] = {}
    for seed, (name, cfg) in enumerate(adapters.items()):
        torch.manual_seed(100 + seed)
        model = get_peft_model(base(), cfg)
        if name == "prompt-text":
            golden["text_init_prompt_embeddings"] = model.prompt_encoder["default"].embedding.weight.tolist()
        perturb(model, ["modules_to_save", "prompt_encoder", "ia3_l"] if name != "prompt-text" else ["modules_to_save"],
                seed)
        if name == "lora-dora":
            scale_magnitudes(model, seed)
        model.eval()
        expected = logits(model)
        directory = os.path.join("adapters", name)
        model.save_pretrained(directory)
        reloaded = logits(PeftModel.from_pretrained(base(), directory).eval())
        assert torch.allclose(expected, reloaded, atol=1e-6), name  # what was saved is what ran
        golden["logits"][name] = expected.tolist()
        golden["adapters"][name] = directory
    with open("golden.json", "w") as f:
        json.dump(golden, f, indent=1)
    print("golden files written to", out, golden["versions"])


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
