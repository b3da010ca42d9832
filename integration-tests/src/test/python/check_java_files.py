"""Loads the files peft4j wrote (JavaFilesForPythonTest) with Python's PEFT and transformers.

    python check_java_files.py GOLDEN_DIR JAVA_DIR

GOLDEN_DIR is what make_golden.py wrote (the tiny base model, tiny-*, and the inputs: bert-seq-cls, or
one family's directory of --families); JAVA_DIR holds one
adapter directory per method, two exported model directories and expected_logits.json, peft4j's
logits on the golden inputs. Each adapter must load with PeftModel.from_pretrained onto the base
with no missing and no unexpected keys and give peft4j's logits to 1e-5; each export must load
with AutoModelForSequenceClassification and AutoTokenizer, tokenize the golden texts as the base's
tokenizer does, and give peft4j's logits, the mean-pooled head through the few lines of Python
the adapter format guide documents. Exits 1 on the first difference.
"""
import json
import os
import sys

import torch
from peft import PeftConfig, PeftModel, get_peft_model, load_peft_weights, set_peft_model_state_dict
from transformers import AutoModelForSequenceClassification, AutoTokenizer

TOLERANCE = 1e-5


def mean_pooled_logits(model, batch):
    """The classifier on sentence-transformers' mean pooling of the real tokens (peft4j_head: mean_pooling)."""
    hidden = model.bert(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return model.classifier(pooled)


def main(golden_dir, java_dir):
    golden = json.load(open(os.path.join(golden_dir, "golden.json")))
    expected = json.load(open(os.path.join(java_dir, "expected_logits.json")))
    base_dir = os.path.join(golden_dir, next(d for d in sorted(os.listdir(golden_dir)) if d.startswith("tiny-")))
    batch = {k: torch.tensor(v) for k, v in golden["inputs"].items() if k != "texts"}
    failures = []
    for name, logits in expected.items():
        directory = os.path.join(java_dir, name)
        want = torch.tensor(logits).reshape(len(golden["inputs"]["texts"]), -1)
        with torch.no_grad():
            if name.startswith("export-"):
                model = AutoModelForSequenceClassification.from_pretrained(directory).eval()
                tokenizer = AutoTokenizer.from_pretrained(directory)
                ids = tokenizer(golden["inputs"]["texts"], padding=True)["input_ids"]
                if ids != golden["inputs"]["input_ids"]:
                    failures.append(f"{name}: the exported tokenizer gives {ids}")
                head = model.config.to_dict().get("peft4j_head", "pooler")
                got = mean_pooled_logits(model, batch) if head == "mean_pooling" else model(**batch).logits
                keys = "model and tokenizer"
            else:
                # the keys: every tensor of the file goes somewhere, and no adapter weight is left out
                config = PeftConfig.from_pretrained(directory)
                fresh = get_peft_model(AutoModelForSequenceClassification.from_pretrained(base_dir), config)
                result = set_peft_model_state_dict(fresh, load_peft_weights(directory))
                # prompt learning: set_peft_model_state_dict loads prompt_embeddings on its own, strictly
                # (prompt_encoder[adapter].embedding.load_state_dict(..., strict=True), which raises on a
                # mismatch), and then reports it as unexpected to the generic load of the other keys
                unexpected = [k for k in result.unexpected_keys if not (config.is_prompt_learning and k == "prompt_embeddings")]
                # an adapter's own weights carry the adapter's name ("lora_A.default.weight",
                # "ia3_l.default", "modules_to_save.default..."); the frozen base's do not
                missing = [k for k in result.missing_keys
                           if (".default." in k or k.endswith(".default"))
                           and not (config.is_prompt_learning and k.startswith("prompt_encoder."))]
                if unexpected or missing:
                    failures.append(f"{name}: unexpected keys {unexpected}, missing {missing}")
                model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base_dir),
                                                  directory).eval()
                got = model(**batch).logits
                keys = f"{config.peft_type.value}, no missing or unexpected keys"
        diff = (got - want).abs().max().item()
        print(f"{name}: {keys}; max |logit difference| {diff:.2e}")
        if not diff <= TOLERANCE:
            failures.append(f"{name}: logits differ by {diff:.2e}")
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print(f"all {len(expected)} files load in Python with the same logits")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
