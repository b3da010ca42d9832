"""Loads the causal-LM files peft4j wrote (DecoderFilesForPythonTest) with Python's PEFT and transformers.

    python check_java_decoder_files.py JAVA_DIR

JAVA_DIR holds adapter directories (LoRA, prompt- and prefix-tuning, each task_type CAUSAL_LM, on
the tiny LLaMA and GPT-2) and merged exports, inputs.json, bases.json (each file's base model: a golden tiny model of
make_decoder_golden.py) and expected_logits.json, peft4j's logits. Each adapter must load with PeftModel.from_pretrained onto
the base with no missing and no unexpected keys and give peft4j's logits on the real positions
(PEFT ignores position_ids for prompt learning, so those run without them); the export must load
with AutoModelForCausalLM and AutoTokenizer and give peft4j's logits. Exits 1 on a difference.
"""
import json
import os
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

TOLERANCE = 1e-4


def main(java_dir):
    inputs = json.load(open(os.path.join(java_dir, "inputs.json")))
    bases = json.load(open(os.path.join(java_dir, "bases.json")))
    expected = json.load(open(os.path.join(java_dir, "expected_logits.json")))
    ids = torch.tensor(inputs["input_ids"])
    mask = torch.tensor(inputs["attention_mask"])
    positions = torch.tensor(inputs["position_ids"])
    failures = []
    for name, want in expected.items():
        directory = os.path.join(java_dir, name)
        model_dir = bases[name]
        if name.startswith("export"):
            model = AutoModelForCausalLM.from_pretrained(directory).eval()
            tokenizer = AutoTokenizer.from_pretrained(directory)
            if tokenizer("the cat sat")["input_ids"] != AutoTokenizer.from_pretrained(model_dir)("the cat sat")["input_ids"]:
                failures.append(f"{name}: the tokenizer encodes differently")
            kwargs = dict(position_ids=positions)
            skip = 0
        else:
            base = AutoModelForCausalLM.from_pretrained(model_dir)
            model = PeftModel.from_pretrained(base, directory).eval()
            prompt_learning = model.peft_config["default"].is_prompt_learning
            kwargs = {} if prompt_learning else dict(position_ids=positions)
            skip = model.peft_config["default"].num_virtual_tokens if name.startswith("prompt") else 0
        with torch.no_grad():
            logits = model(input_ids=ids, attention_mask=mask, **kwargs).logits[:, skip:, :]
        real = mask.bool()
        diff = (logits - torch.tensor(want))[real].abs().max().item()
        print(f"{name}: max |logit difference| {diff:.2e}")
        if diff > TOLERANCE:
            failures.append(f"{name}: logits differ by {diff}")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print(f"all {len(expected)} files load in Python with the same logits")


if __name__ == "__main__":
    main(sys.argv[1])
