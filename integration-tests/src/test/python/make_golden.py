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

    python make_golden.py --families OUT_DIR

writes, for the other encoder families, into OUT_DIR/<family>-seq-cls/ (roberta, distilbert):
  tiny-<family>/         a random RobertaForSequenceClassification or DistilBertForSequenceClassification
                         (3 labels, 2 layers, hidden 32) saved by save_pretrained, with a small tokenizer
                         (RoBERTa's: <s> </s> around the text, <pad> = 1; DistilBERT's: BERT's WordPiece)
  adapters/<name>/       SEQ_CLS adapters saved by PEFT: LoRA (RoBERTa on PEFT's default targets, query
                         and value; DistilBERT on q_lin and v_lin, as PEFT 0.21 has no default for it) and
                         prompt-tuning; RoBERTa also prefix-tuning
  golden.json            the inputs (padded), the logits of the base and of each adapter, the versions

peft4j's GoldenInteropTest and FamiliesGoldenTest load every file with Java and must reproduce every logit.
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
from transformers import (BertConfig, BertForSequenceClassification, BertTokenizerFast, DistilBertConfig,
                          DistilBertForSequenceClassification, PreTrainedTokenizerFast, RobertaConfig,
                          RobertaForSequenceClassification)

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


ROBERTA_VOCAB = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] + [w for w in WORDS if not w.startswith("##")]


def roberta_tokenizer(directory):
    """A word-level tokenizer with RoBERTa's special tokens and template (<s> A </s>, <pad> = 1)."""
    words = Tokenizer(models.WordLevel({w: i for i, w in enumerate(ROBERTA_VOCAB)}, unk_token="<unk>"))
    words.normalizer = normalizers.Lowercase()
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    words.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=words, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", mask_token="<mask>", model_max_length=32)
    fast.save_pretrained(directory)
    return fast


def family(out, name, model_class, config, make_tokenizer, adapters):
    """One family's tiny classifier, its adapters and golden.json, under out/<name>-seq-cls."""
    root = os.path.join(out, name + "-seq-cls")
    os.makedirs(root)
    os.chdir(root)
    torch.manual_seed(0)
    base_dir = "tiny-" + name
    base_model = model_class(config)
    perturb(base_model, ["classifier"], 99)  # a head far from its tiny start, so the logits are not near 0
    base_model.save_pretrained(base_dir)
    tok = make_tokenizer(base_dir)
    batch = tok(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=False)

    def base():
        return model_class.from_pretrained(base_dir).eval()

    def logits(model):
        with torch.no_grad():
            return model(**batch).logits

    golden = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
                     "tokenizers": tokenizers.__version__},
        "inputs": {"texts": TEXTS, **{k: v.tolist() for k, v in batch.items()}},
        "pad_token_id": tok.pad_token_id,
        "labels": LABELS,
        "logits": {"base": logits(base()).tolist()},
        "adapters": {},
        "saved_modules": {},
    }
    for seed, (adapter, cfg) in enumerate(adapters.items()):
        torch.manual_seed(200 + seed)
        model = get_peft_model(base(), cfg)
        perturb(model, ["modules_to_save", "prompt_encoder"], seed)
        model.eval()
        expected = logits(model)
        directory = os.path.join("adapters", adapter)
        model.save_pretrained(directory)
        reloaded = logits(PeftModel.from_pretrained(base(), directory).eval())
        assert torch.allclose(expected, reloaded, atol=1e-6), adapter  # what was saved is what ran
        golden["logits"][adapter] = expected.tolist()
        golden["adapters"][adapter] = directory
        golden["saved_modules"][adapter] = sorted({k.split(".modules_to_save.")[0].replace("base_model.model.", "")
                                                   for k, _ in model.named_parameters() if ".modules_to_save." in k})
    with open("golden.json", "w") as f:
        json.dump(golden, f, indent=1)
    print("golden files written to", root, golden["saved_modules"])


def families(out):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    labels = {"num_labels": len(LABELS), "id2label": dict(enumerate(LABELS)),
              "label2id": {l: i for i, l in enumerate(LABELS)}}
    roberta = RobertaConfig(vocab_size=len(ROBERTA_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            intermediate_size=37, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1,
                            bos_token_id=0, eos_token_id=2, **labels)
    family(out, "roberta", RobertaForSequenceClassification, roberta, roberta_tokenizer, {
        "lora": LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, init_lora_weights=False),  # query, value
        "prompt": PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4,
                                     prompt_tuning_init=PromptTuningInit.RANDOM),
        "prefix": PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=3),
    })
    distilbert = DistilBertConfig(vocab_size=len(VOCAB), dim=32, n_layers=2, n_heads=4, hidden_dim=37,
                                  max_position_embeddings=40, pad_token_id=0, **labels)
    family(out, "distilbert", DistilBertForSequenceClassification, distilbert, tokenizer, {
        "lora": LoraConfig(task_type=TaskType.SEQ_CLS, r=4, lora_alpha=8, target_modules=["q_lin", "v_lin"],
                           init_lora_weights=False),
        # PEFT reads hidden_size etc. off the config dict, where DistilBERT has dim, n_layers, n_heads
        "prompt": PromptTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4, token_dim=32, num_layers=2,
                                     num_attention_heads=4, prompt_tuning_init=PromptTuningInit.RANDOM),
    })


if __name__ == "__main__":
    if sys.argv[1] == "--families":
        families(os.path.abspath(sys.argv[2]))
    else:
        main(os.path.abspath(sys.argv[1]))
