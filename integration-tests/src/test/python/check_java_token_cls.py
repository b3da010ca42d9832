"""Loads the TOKEN_CLS adapter peft4j wrote (TokenClsGoldenTest) in Python's PEFT and checks its logits.

    python check_java_token_cls.py GOLDEN_DIR JAVA_DIR

GOLDEN_DIR is make_token_cls_golden.py's output (the base tiny-bert-tagger and the inputs); JAVA_DIR
holds adapters/lora (written by Java) and logits.json (Java's logits on the golden inputs). The
adapter must load onto BertForTokenClassification with no missing or unexpected adapter keys, as a
TOKEN_CLS PeftModel, and give Java's logits to 1e-5. Exits with status 1 otherwise.
"""
import json
import os
import sys

import torch
from peft import PeftModel, PeftModelForTokenClassification
from transformers import BertForTokenClassification


def main(golden_dir, java_dir):
    golden = json.load(open(os.path.join(golden_dir, "golden.json")))
    inputs = {k: torch.tensor(golden["inputs"][k]) for k in ("input_ids", "attention_mask", "token_type_ids")}
    base = BertForTokenClassification.from_pretrained(os.path.join(golden_dir, "tiny-bert-tagger"))
    model = PeftModel.from_pretrained(base, os.path.join(java_dir, "adapters", "lora")).eval()
    assert isinstance(model, PeftModelForTokenClassification), type(model)
    with torch.no_grad():
        ours = model(**inputs).logits
    java = torch.tensor(json.load(open(os.path.join(java_dir, "logits.json"))))
    diff = (ours - java).abs().max().item()
    print(f"token-cls lora written by Java: max |logit difference| {diff:.2e}")
    if not diff < 1e-5:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
