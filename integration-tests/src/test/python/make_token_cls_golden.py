"""Golden files for token classification (TOKEN_CLS), made by the real Hugging Face libraries.

    python make_token_cls_golden.py OUT_DIR

writes into OUT_DIR:
  tiny-bert-tagger/      a random BertForTokenClassification (3 tags) saved by transformers'
                         save_pretrained, with make_golden.py's small WordPiece tokenizer
  adapters/lora/         a LoRA adapter (query, value) saved by PEFT, task_type TOKEN_CLS, its
                         classifier (modules_to_save) moved away from its start as training would
  golden.json            the words (pre-split), the tokenizer's input_ids, attention_mask,
                         token_type_ids and word_ids (is_split_into_words=True), the labels aligned
                         as transformers' run_ner.py aligns them (first sub-token, -100 elsewhere),
                         the adapter's logits [B, T, 3] in eval mode, and the library versions

peft4j's TokenClsGoldenTest loads the adapter with Java and must reproduce every logit to 1e-5.
"""
import json
import os
import shutil
import sys

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, TaskType, get_peft_model
from transformers import BertConfig, BertForTokenClassification

from make_golden import VOCAB, perturb, tokenizer

TAGS = ["B-ACT", "I-ACT", "O"]
SENTENCES = [["WIN", "free", "money", ",", "click", "now!"], ["please", "review", "the", "meetings", "notes"]]
LABELS = [["B-ACT", "O", "O", "O", "B-ACT", "O"], ["O", "B-ACT", "O", "O", "O"]]


def main(out):
    torch.manual_seed(0)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    os.chdir(out)
    base_dir = "tiny-bert-tagger"
    config = BertConfig(vocab_size=len(VOCAB), hidden_size=16, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=32, max_position_embeddings=40, type_vocab_size=2, num_labels=len(TAGS),
                        id2label=dict(enumerate(TAGS)), label2id={t: i for i, t in enumerate(TAGS)})
    BertForTokenClassification(config).save_pretrained(base_dir)
    tok = tokenizer(base_dir)
    batch = tok(SENTENCES, is_split_into_words=True, padding=True, return_tensors="pt", return_token_type_ids=True)
    word_ids = [batch.word_ids(i) for i in range(len(SENTENCES))]
    aligned = []
    for i, ids in enumerate(word_ids):
        previous, row = None, []
        for w in ids:  # run_ner.py's tokenize_and_align_labels, label_all_tokens=False
            row.append(-100 if w is None or w == previous else TAGS.index(LABELS[i][w]))
            previous = w
        aligned.append(row)

    torch.manual_seed(100)
    model = get_peft_model(BertForTokenClassification.from_pretrained(base_dir).eval(),
                           LoraConfig(task_type=TaskType.TOKEN_CLS, r=4, lora_alpha=8, target_modules=["query", "value"],
                                      init_lora_weights=False))
    perturb(model, ["modules_to_save"], 7)
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    directory = os.path.join("adapters", "lora")
    model.save_pretrained(directory)
    with torch.no_grad():
        reloaded = PeftModel.from_pretrained(BertForTokenClassification.from_pretrained(base_dir), directory).eval()(
            **batch).logits
    assert torch.allclose(expected, reloaded, atol=1e-6)  # what was saved is what ran
    golden = {
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "tags": TAGS,
        "inputs": {"words": SENTENCES, "tags": LABELS, **{k: v.tolist() for k, v in batch.items()},
                   "word_ids": [[-1 if w is None else w for w in ids] for ids in word_ids], "labels": aligned},
        "logits": {"lora": expected.tolist()},
    }
    with open("golden.json", "w") as f:
        json.dump(golden, f, indent=1)
    print("golden files written to", out, golden["versions"])


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main(os.path.abspath(sys.argv[1]))
