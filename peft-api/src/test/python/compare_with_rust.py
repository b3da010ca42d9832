"""Compares peft4j's safetensors verdicts with the reference reader's (the Rust core of Python's
`safetensors` package).

    mvn -B -ntp -pl peft-api test -Dtest=SafeTensorsFuzzTest -Dfuzz.cases=20000 -Dfuzz.dump=/tmp/fz
    python3 peft-api/src/test/python/compare_with_rust.py /tmp/fz

Prints the number of files each side accepts and every disagreement, grouped by the reason; the
disagreements peft4j intends (see the safetensors Header class) are counted apart.
"""
import collections
import json
import pathlib
import re
import struct
import sys

from safetensors import deserialize


def intended(header_bytes):
    """Why peft4j refuses a file the reference accepts on purpose, or None."""
    try:
        text = header_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return None
    pairs = []

    def hook(items):
        pairs.append([k for k, _ in items])
        return dict(items)

    try:
        json.loads(text, object_pairs_hook=hook)
    except ValueError:
        return None
    if any(len(keys) != len(set(keys)) for keys in pairs):
        return "a repeated key"
    if re.search(r'"dtype"\s*:\s*\{', text):
        return "dtype in map form"
    if any(int(n) >= 2**63 for n in re.findall(r"(?<![\d.eE+-])\d{19,20}(?![\d.eE])", text)):
        return "an integer of 2^63 or more"
    return None


def main(folder):
    folder = pathlib.Path(folder)
    ours = dict(line.split("\t") for line in (folder / "verdicts.tsv").read_text().splitlines())
    counts = collections.Counter()
    disagreements = collections.defaultdict(list)
    for case, verdict in sorted(ours.items(), key=lambda kv: int(kv[0])):
        data = (folder / f"case-{case}.safetensors").read_bytes()
        try:
            deserialize(data)
            rust = "accept"
        except Exception as e:  # the reference's error type varies with the cause
            rust = "refuse"
            why = str(e)
        counts[(verdict, rust)] += 1
        if verdict != rust:
            reason = None
            if verdict == "refuse" and len(data) >= 8:
                n = struct.unpack("<Q", data[:8])[0]
                reason = intended(data[8:8 + n]) if n <= len(data) - 8 else None
            key = f"intended: {reason}" if reason else f"peft4j {verdict}s, reference {rust}s"
            disagreements[key].append((case, why if rust == "refuse" else ""))
    print(f"{len(ours)} files; (peft4j, reference) counts: {dict(counts)}")
    for key, cases in sorted(disagreements.items()):
        print(f"{key}: {len(cases)} files, e.g. {cases[:3]}")


if __name__ == "__main__":
    main(sys.argv[1])
