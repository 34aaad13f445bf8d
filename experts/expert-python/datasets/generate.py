#!/usr/bin/env python3
"""Synthetic dataset for expert-python: tiny one-argument Python functions.

"Write a Python function that doubles x" -> ``def f(x):\n    return x * 2``

A closed set of 22 small functions (arithmetic, tests, conversions, list and string
built-ins), each described in two or three ways and asked for in ten frames, so that a LoRA
on hxpm's random tiny demo base can learn it in a few hundred CPU steps. The answer is always
``def f(x):`` and one ``return`` line.

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *case* (a frame with a description): no held-out
prompt, nor any wording of it, is in the training set; each held-out description was seen in
training only inside other frames.

    python datasets/generate.py [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 0
N_TRAIN = 1000
N_HELDOUT = 80

# descriptions of what f does -> the expression it returns
FUNCTIONS: list[tuple[list[str], str]] = [
    (["doubles x", "multiplies x by two", "returns twice x"], "x * 2"),
    (["squares x", "returns x squared", "raises x to the power of two"], "x ** 2"),
    (["negates x", "flips the sign of x"], "-x"),
    (["returns the absolute value of x", "drops the sign of x"], "abs(x)"),
    (["adds one to x", "increments x", "returns x plus one"], "x + 1"),
    (["subtracts one from x", "decrements x", "returns x minus one"], "x - 1"),
    (["halves x", "divides x by two"], "x / 2"),
    (["checks whether x is even", "tells if x is divisible by two"], "x % 2 == 0"),
    (["checks whether x is positive", "tells if x is greater than zero"], "x > 0"),
    (["checks whether x is zero", "tells if x equals zero"], "x == 0"),
    (["converts x to a string", "turns x into text"], "str(x)"),
    (["converts x to an integer", "parses x as an int"], "int(x)"),
    (["returns the length of x", "counts the items in x"], "len(x)"),
    (["reverses x", "returns x backwards"], "x[::-1]"),
    (["sorts x", "returns x in ascending order"], "sorted(x)"),
    (["returns the first element of x", "gets the head of x"], "x[0]"),
    (["returns the last element of x", "gets the final item of x"], "x[-1]"),
    (["adds up the items of x", "returns the sum of x"], "sum(x)"),
    (["returns the largest item of x", "finds the maximum of x"], "max(x)"),
    (["returns the smallest item of x", "finds the minimum of x"], "min(x)"),
    (["upper-cases x", "converts x to capital letters"], "x.upper()"),
    (["strips whitespace from x", "trims the spaces around x"], "x.strip()"),
]
FRAMES = [
    "Write a Python function that {d}",
    "python: a function that {d}",
    "Python one-liner: f {d}",
    "In Python, define f so that it {d}",
    "def f(x) that {d}",
    "Python: write f(x), which {d}",
    "Python, please: a function f that {d}",
    "Need a tiny Python function. It {d}",
    "Python code for f, which {d}",
    "Give me Python for f(x) where f {d}",
]
PREFIXES = ["", "", "", "Task: ", "Quick one. ", "Code: "]
SUFFIXES = ["", "", "", ".", " please.", ", thanks"]


def answer(expr: str) -> str:
    return f"def f(x):\n    return {expr}"


def cases() -> list[tuple[str, str]]:
    """Every (prompt, answer) the frames make, in a fixed order."""
    return [(frame.format(d=d), answer(expr))
            for descriptions, expr in FUNCTIONS for d in descriptions for frame in FRAMES]


def decorate(text: str, rng: random.Random) -> str:
    return rng.choice(PREFIXES) + text + rng.choice(SUFFIXES)


def description_of(prompt: str) -> str:
    for frame in FRAMES:
        head, tail = frame.split("{d}")
        if prompt.startswith(head) and prompt.endswith(tail):
            return prompt[len(head):len(prompt) - len(tail)]
    raise ValueError(prompt)


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout): held-out cases are disjoint from the training cases."""
    rng = random.Random(seed)
    pool = cases()
    rng.shuffle(pool)
    # Hold out whole cases, but keep every description in at least 5 training frames.
    left = {d: len(FRAMES) for descriptions, _ in FUNCTIONS for d in descriptions}
    held_cases: list[tuple[str, str]] = []
    train_cases: list[tuple[str, str]] = []
    for case in pool:
        d = description_of(case[0])
        if len(held_cases) < N_HELDOUT and left[d] > 5:
            held_cases.append(case)
            left[d] -= 1
        else:
            train_cases.append(case)
    heldout = [{"prompt": decorate(p, rng), "completion": a} for p, a in held_cases]
    train: list[dict] = []
    while len(train) < 2 * N_TRAIN:  # each training case in several wordings
        for p, a in train_cases:
            train.append({"prompt": decorate(p, rng), "completion": a})
    rng.shuffle(train)
    seen: set[str] = set()
    train = [e for e in train if not (e["prompt"] in seen or seen.add(e["prompt"]))][:N_TRAIN]
    return train, heldout


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    train, heldout = build(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "heldout.jsonl", heldout)
    print(f"{len(train)} training and {len(heldout)} held-out examples in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
