"""Golden ΔW of Hugging Face PEFT's add_weighted_adapter, for peft4j's WeightedAdapterMergeGoldenTest.

    /work/pyvenv/bin/python make_merge_golden.py ../resources/algebra/merge_golden.json

A tiny model with two linear layers ("q" 6->4 and "v" 6->5) gets three random LoRA adapters
(init_lora_weights=False): "x" (r=2, alpha=4), "y" (r=2, alpha=3, rsLoRA off) and "z" (r=3,
alpha=6, only on "q"). PEFT's add_weighted_adapter combines them with every deterministic
combination type; the DARE types run at density 1, where PEFT's unseeded random pruning keeps
everything, so their results are reproducible too. The file records each adapter's A and B and,
for each combination, the new adapter's ΔW = get_delta_weight (B'A' times the new scaling) per
module: for the svd types only ΔW is comparable (the factors' signs are arbitrary).
"""
import json
import sys

import peft
import torch
from peft import LoraConfig, get_peft_model

torch.manual_seed(20261130)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q = torch.nn.Linear(6, 4)
        self.v = torch.nn.Linear(6, 5)

    def forward(self, x):
        return self.q(x) + self.v(x)[..., :4]


ADAPTERS = {
    "x": dict(r=2, lora_alpha=4, target_modules=["q", "v"]),
    "y": dict(r=2, lora_alpha=3, target_modules=["q", "v"]),
    "z": dict(r=3, lora_alpha=6, target_modules=["q"]),
}
CASES = [
    # name, adapters, weights, combination_type, extra kwargs
    ("linear", ["x", "y"], [0.7, -0.4], "linear", {}),
    ("cat", ["x", "y", "z"], [1.0, 0.5, -2.0], "cat", {}),
    ("svd", ["x", "y", "z"], [1.0, 0.5, -2.0], "svd", {}),
    ("svd_rank2", ["x", "y", "z"], [1.0, 0.5, -2.0], "svd", {"svd_rank": 2}),
    ("ties", ["x", "y"], [0.7, 0.4], "ties", {"density": 0.5}),
    ("ties_frequency", ["x", "y"], [0.7, 0.4], "ties", {"density": 0.7, "majority_sign_method": "frequency"}),
    ("ties_svd", ["x", "y", "z"], [0.7, 0.4, 0.3], "ties_svd", {"density": 0.5, "svd_rank": 4}),
    ("dare_linear", ["x", "y"], [0.7, 0.4], "dare_linear", {"density": 1.0}),
    ("dare_ties", ["x", "y"], [0.7, 0.4], "dare_ties", {"density": 1.0}),
    ("dare_linear_svd", ["x", "y"], [0.7, 0.4], "dare_linear_svd", {"density": 1.0}),
    ("dare_ties_svd", ["x", "y"], [0.7, 0.4], "dare_ties_svd", {"density": 1.0, "majority_sign_method": "frequency"}),
    ("magnitude_prune", ["x", "y"], [0.7, 0.4], "magnitude_prune", {"density": 0.4}),
    ("magnitude_prune_svd", ["x", "y", "z"], [0.7, 0.4, 1.5], "magnitude_prune_svd", {"density": 0.4, "svd_rank": 3}),
]


def lists(t):
    return t.detach().double().tolist()


def main(out):
    model = get_peft_model(Tiny(), LoraConfig(init_lora_weights=False, **ADAPTERS["x"]), adapter_name="x")
    for name in ("y", "z"):
        model.add_adapter(name, LoraConfig(init_lora_weights=False, **ADAPTERS[name]))
    layers = {"q": model.base_model.model.q, "v": model.base_model.model.v}
    adapters = {}
    for name, cfg in ADAPTERS.items():
        adapters[name] = {"config": cfg, "modules": {
            m: {"A": lists(layer.lora_A[name].weight), "B": lists(layer.lora_B[name].weight)}
            for m, layer in layers.items() if name in layer.lora_A}}
    cases = []
    for case, names, weights, ctype, kwargs in CASES:
        new = "merged_" + case
        model.add_weighted_adapter(names, weights, new, combination_type=ctype, **kwargs)
        cfg = model.peft_config[new]
        cases.append({
            "name": case, "adapters": names, "weights": weights, "combination_type": ctype, "kwargs": kwargs,
            "r": cfg.r, "lora_alpha": cfg.lora_alpha,
            "delta": {m: lists(layer.get_delta_weight(new)) for m, layer in layers.items() if new in layer.lora_A},
        })
    with open(out, "w") as f:
        json.dump({"peft": peft.__version__, "torch": torch.__version__, "adapters": adapters, "cases": cases}, f,
                  indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
