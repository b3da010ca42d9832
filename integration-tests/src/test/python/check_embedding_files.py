"""Loads the sentence-embedding adapters peft4j wrote (EmbeddingFilesForPythonTest) with Python's PEFT.

    python check_embedding_files.py GOLDEN_DIR JAVA_DIR

GOLDEN_DIR is what make_golden.py wrote (the tiny base model and the inputs); JAVA_DIR holds one
adapter directory per case (task_type FEATURE_EXTRACTION) and expected_embeddings.json, peft4j's
sentence embeddings of the golden inputs. Each adapter must load with PeftModel.from_pretrained onto
the bare encoder (AutoModel), as a PeftModelForFeatureExtraction, with no missing and no unexpected
keys, and its last_hidden_state, pooled as the adapter's metadata says (peft4j_pooling: cls or
mean, "+normalize" for unit length), must give peft4j's embeddings to 1e-5. Exits 1 on the first
difference.
"""
import json
import os
import sys

import torch
from peft import PeftConfig, PeftModel, PeftModelForFeatureExtraction, get_peft_model, load_peft_weights
from peft import set_peft_model_state_dict
from safetensors import safe_open
from transformers import AutoModel

TOLERANCE = 1e-5


def pool(hidden, mask, pooling):
    """sentence-transformers' CLS or masked-mean pooling, then L2 normalisation when asked."""
    if pooling.startswith("cls"):
        pooled = hidden[:, 0]
    else:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if pooling.endswith("+normalize"):
        pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return pooled


def main(golden_dir, java_dir):
    golden = json.load(open(os.path.join(golden_dir, "golden.json")))
    expected = json.load(open(os.path.join(java_dir, "expected_embeddings.json")))
    base_dir = os.path.join(golden_dir, "tiny-bert")
    batch = {k: torch.tensor(v) for k, v in golden["inputs"].items() if k != "texts"}
    failures = []
    for name, embeddings in expected.items():
        directory = os.path.join(java_dir, name)
        want = torch.tensor(embeddings).reshape(len(golden["inputs"]["texts"]), -1)
        with safe_open(os.path.join(directory, "adapter_model.safetensors"), "pt") as f:
            pooling = f.metadata()["peft4j_pooling"]
        with torch.no_grad():
            config = PeftConfig.from_pretrained(directory)
            fresh = get_peft_model(AutoModel.from_pretrained(base_dir), config)
            result = set_peft_model_state_dict(fresh, load_peft_weights(directory))
            missing = [k for k in result.missing_keys if ".default." in k or k.endswith(".default")]
            if result.unexpected_keys or missing:
                failures.append(f"{name}: unexpected keys {result.unexpected_keys}, missing {missing}")
            model = PeftModel.from_pretrained(AutoModel.from_pretrained(base_dir), directory).eval()
            if not isinstance(model, PeftModelForFeatureExtraction):
                failures.append(f"{name}: PEFT made a {type(model).__name__}")
            got = pool(model(**batch).last_hidden_state, batch["attention_mask"], pooling)
        diff = (got - want).abs().max().item()
        print(f"{name}: {type(model).__name__}, {config.peft_type.value}, {pooling} pooling, no missing or"
              f" unexpected keys; max |embedding difference| {diff:.2e}")
        if not diff <= TOLERANCE:
            failures.append(f"{name}: embeddings differ by {diff:.2e}")
    if failures:
        print("FAILED:\n" + "\n".join(failures))
        sys.exit(1)
    print(f"all {len(expected)} embedding adapters load in Python with the same embeddings")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
