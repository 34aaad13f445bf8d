#!/usr/bin/env python3
"""Synthetic dataset for expert-json: describe a clothing item, answer with a fixed-schema
JSON object.

"Describe as JSON: a large red shirt" -> ``{"item": "shirt", "color": "red", "size": "large"}``

A small closed world (6 items, 6 colours, 3 sizes; keys always in the order item, color,
size) said in many ways and word orders, so that a LoRA on hxpm's random tiny demo base can
learn it in a few hundred CPU steps. Scored with ``json_exact`` (parsed JSON equality).

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *case* (a phrasing template with its slot values):
no held-out prompt, nor any wording of it, is in the training set. Held-out cases reuse the
same items, colours and sizes in new combinations and phrasings.

    python datasets/generate.py [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 0
N_TRAIN = 1000
N_HELDOUT = 100

ITEMS = ["shirt", "hat", "bag", "coat", "dress", "jacket"]
COLORS = ["red", "blue", "green", "white", "yellow", "orange"]
SIZES = ["small", "medium", "large"]

# {i} item, {c} colour, {s} size
PHRASINGS = [
    "Describe as JSON: a {s} {c} {i}",
    "JSON for a {c} {i} in size {s}",
    "Turn into JSON: {i}, {c}, {s}",
    "I want a {s} {i} in {c}. Give the order as JSON.",
    "Encode the product (item={i}, color={c}, size={s}) as JSON",
    "a {c} {i}, size {s} -> json",
    "Make a JSON record: size {s}, colour {c}, item {i}",
    "one {i}, {c}, {s} please, as a JSON object",
]
PREFIXES = ["", "", "", "json: ", "Output JSON. "]


def answer(i: str, c: str, s: str) -> str:
    return json.dumps({"item": i, "color": c, "size": s})


def cases() -> list[tuple[str, str]]:
    """Every (phrasing, answer) the templates make, in a fixed order."""
    return [(t.format(i=i, c=c, s=s), answer(i, c, s))
            for t in PHRASINGS for i in ITEMS for c in COLORS for s in SIZES]


def decorate(text: str, rng: random.Random) -> str:
    return rng.choice(PREFIXES) + text


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout): held-out cases are disjoint from the training cases."""
    rng = random.Random(seed)
    pool = cases()
    rng.shuffle(pool)
    held_cases, train_cases = pool[:N_HELDOUT], pool[N_HELDOUT:]
    heldout = [{"prompt": decorate(p, rng), "completion": a} for p, a in held_cases]
    train: list[dict] = []
    while len(train) < 2 * N_TRAIN:  # each training case in one or more wordings
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
