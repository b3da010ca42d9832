"""Golden PiSSA and OLoRA starts from Hugging Face PEFT, for peft4j's LoraDecompositionInitTest.

    /work/pyvenv/bin/python make_init_golden.py ../resources/algebra/init_golden.json

A random linear layer (5 -> 4 and 3 -> 6) gets a LoRA adapter with r=2, lora_alpha=4 and
init_lora_weights "pissa", then "olora"; the file records each base weight W before, and PEFT's
W_res (the base weight after) and s·B·A. Both are independent of the signs the decompositions
choose, so they compare across implementations.
"""
import json
import sys

import peft
import torch
from peft import LoraConfig, get_peft_model

torch.manual_seed(7)


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wide = torch.nn.Linear(5, 4)
        self.tall = torch.nn.Linear(3, 6)


def lists(t):
    return t.detach().double().tolist()


def main(out):
    base = Tiny()
    weights = {name: getattr(base, name).weight.detach().clone() for name in ("wide", "tall")}
    cases = []
    for init in ("pissa", "olora"):
        model = Tiny()
        model.load_state_dict(base.state_dict())
        peft_model = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["wide", "tall"],
                                                      init_lora_weights=init))
        modules = {}
        for name in ("wide", "tall"):
            layer = getattr(peft_model.base_model.model, name)
            modules[name] = {"residual": lists(layer.base_layer.weight), "delta": lists(layer.get_delta_weight("default"))}
        cases.append({"init_lora_weights": init, "modules": modules})
    with open(out, "w") as f:
        json.dump({"peft": peft.__version__, "torch": torch.__version__, "r": 2, "lora_alpha": 4,
                   "weights": {k: lists(v) for k, v in weights.items()}, "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
