#!/usr/bin/env python3
"""Synthetic dataset for expert-rust: tiny one-argument Rust functions.

"Write a Rust function that doubles x" -> ``fn f(x: i32) -> i32 { x * 2 }``

A closed set of 22 small functions (arithmetic on ``i32``, tests returning ``bool``,
``&str`` and ``&[i32]`` methods, ``f64`` maths), each described in two or three ways and
asked for in ten frames, so that a LoRA on hxpm's random tiny demo base can learn it in a few
hundred CPU steps. The answer is always one line, ``fn f(x: T) -> U { ... }``, with the
parameter and return types the function needs.

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

# descriptions of what f does -> (parameter type, return type, body)
FUNCTIONS: list[tuple[list[str], tuple[str, str, str]]] = [
    (["doubles x", "multiplies x by two", "returns twice x"], ("i32", "i32", "x * 2")),
    (["squares x", "returns x squared", "multiplies x by itself"], ("i32", "i32", "x * x")),
    (["negates x", "flips the sign of x"], ("i32", "i32", "-x")),
    (["returns the absolute value of x", "drops the sign of x"], ("i32", "i32", "x.abs()")),
    (["adds one to x", "increments x", "returns x plus one"], ("i32", "i32", "x + 1")),
    (["subtracts one from x", "decrements x", "returns x minus one"], ("i32", "i32", "x - 1")),
    (["halves x", "divides x by two"], ("i32", "i32", "x / 2")),
    (["checks whether x is even", "tells if x is divisible by two"], ("i32", "bool", "x % 2 == 0")),
    (["checks whether x is positive", "tells if x is greater than zero"], ("i32", "bool", "x > 0")),
    (["checks whether x is zero", "tells if x equals zero"], ("i32", "bool", "x == 0")),
    (["converts x to a string", "turns x into text"], ("i32", "String", "x.to_string()")),
    (["parses x as an integer", "reads a number from x"], ("&str", "i32", "x.parse().unwrap()")),
    (["returns the length of x", "counts the bytes in x"], ("&str", "usize", "x.len()")),
    (["checks whether x is empty", "tells if x has no characters"], ("&str", "bool", "x.is_empty()")),
    (["upper-cases x", "converts x to capital letters"], ("&str", "String", "x.to_uppercase()")),
    (["strips whitespace from x", "trims the spaces around x"], ("&str", "&str", "x.trim()")),
    (["returns the first element of x", "gets the head of x"], ("&[i32]", "i32", "x[0]")),
    (["adds up the items of x", "returns the sum of x"], ("&[i32]", "i32", "x.iter().sum()")),
    (["counts the items in x", "returns how many numbers x holds"], ("&[i32]", "usize", "x.len()")),
    (["returns the largest item of x", "finds the maximum of x"], ("&[i32]", "i32", "*x.iter().max().unwrap()")),
    (["returns the square root of x", "takes the root of x"], ("f64", "f64", "x.sqrt()")),
    (["rounds x down", "returns the floor of x"], ("f64", "f64", "x.floor()")),
]
FRAMES = [
    "Write a Rust function that {d}",
    "rust: a function that {d}",
    "Rust one-liner: f {d}",
    "In Rust, define fn f so that it {d}",
    "fn f(x) that {d}",
    "Rust: write f(x), which {d}",
    "Rust, please: a function f that {d}",
    "Need a tiny Rust function. It {d}",
    "Rust code for f, which {d}",
    "Give me Rust for f(x) where f {d}",
]
PREFIXES = ["", "", "", "Task: ", "Quick one. ", "Code: "]
SUFFIXES = ["", "", "", ".", " please.", ", thanks"]


def answer(param: str, ret: str, body: str) -> str:
    return f"fn f(x: {param}) -> {ret} {{ {body} }}"


def cases() -> list[tuple[str, str]]:
    """Every (prompt, answer) the frames make, in a fixed order."""
    return [(frame.format(d=d), answer(*spec))
            for descriptions, spec in FUNCTIONS for d in descriptions for frame in FRAMES]


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
