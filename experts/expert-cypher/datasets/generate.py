#!/usr/bin/env python3
"""Synthetic dataset for expert-cypher: one-line Neo4j Cypher for simple graph requests.

"find every Person node" -> ``MATCH (n:Person) RETURN n;``

A small closed world (6 node labels, 4 properties, 4 relationship types, 7 kinds of query)
said in many ways, with no numbers to copy (a random base learns to copy a word far faster
than a digit), so that a LoRA on hxpm's random tiny demo base can learn it in a few
hundred CPU steps.

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *case* (a phrasing template with its slot values):
no held-out prompt, nor any wording of it, is in the training set. Held-out cases reuse the
same labels, properties and relationship types in new combinations and phrasings.

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

LABELS = ["Person", "Movie", "Company", "Book", "Album", "Team"]
PROPERTIES = ["name", "title", "year", "id"]
RELATIONS = ["KNOWS", "LIKES", "OWNS", "FOLLOWS"]

# kind -> (phrasings, answer); {l} label, {p} property, {r} relationship type
KINDS: dict[str, tuple[list[str], str]] = {
    "all": ([
        "find every {l} node",
        "return all nodes labelled {l}",
        "show me all the {l} nodes",
        "get each node with label {l}",
        "list all {l} nodes in the graph",
    ], "MATCH (n:{l}) RETURN n;"),
    "count": ([
        "count the {l} nodes",
        "how many {l} nodes are there?",
        "number of nodes with label {l}",
        "give me the total of {l} nodes",
        "how many nodes are labelled {l}?",
    ], "MATCH (n:{l}) RETURN count(n);"),
    "order": ([
        "return the {l} nodes sorted by {p}",
        "list every {l} node ordered by its {p}",
        "show all nodes labelled {l}, ordered by {p}",
    ], "MATCH (n:{l}) RETURN n ORDER BY n.{p};"),
    "property": ([
        "list the {p} of every {l} node",
        "return the {p} property of all {l} nodes",
        "what is the {p} of each {l}?",
        "show {p} for all nodes labelled {l}",
    ], "MATCH (n:{l}) RETURN n.{p};"),
    "delete": ([
        "delete all {l} nodes and their relationships",
        "remove every {l} node from the graph",
        "wipe out the {l} nodes",
        "detach and delete each {l} node",
    ], "MATCH (n:{l}) DETACH DELETE n;"),
    "create": ([
        "create a {l} node",
        "add a new node labelled {l}",
        "make one empty {l} node",
        "insert a {l} node into the graph",
    ], "CREATE (n:{l});"),
    "relation": ([
        "find every {r} relationship",
        "return all relationships of type {r}",
        "show each {r} edge in the graph",
        "list all the {r} relationships",
    ], "MATCH ()-[r:{r}]->() RETURN r;"),
}
PREFIXES = ["", "", "", "Cypher: ", "cypher: ", "In Neo4j, "]


def cases() -> list[tuple[str, str]]:
    """Every (phrasing, answer) the templates make, in a fixed order."""
    out: list[tuple[str, str]] = []
    for phrasings, answer in KINDS.values():
        for template in phrasings:
            ls = LABELS if "{l}" in template else [""]
            ps = PROPERTIES if "{p}" in template else [""]
            rs = RELATIONS if "{r}" in template else [""]
            for lab in ls:
                for p in ps:
                    for r in rs:
                        slots = {"l": lab, "p": p, "r": r}
                        out.append((template.format(**slots), answer.format(**slots)))
    return out


def decorate(text: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:]
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
