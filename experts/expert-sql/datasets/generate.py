#!/usr/bin/env python3
"""Synthetic dataset for expert-sql: one-line SQL for simple requests about one table.

"count the rows of table orders" -> ``SELECT COUNT(*) FROM orders;``

A small closed world (8 table names, 6 column names, 6 kinds of statement) said in many
ways, with no numbers to copy (a random base learns to copy a word far faster than a digit),
so that a LoRA on hxpm's random tiny demo base can learn it in a few hundred CPU steps.

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *case* (a phrasing template with its slot values):
no held-out prompt, nor any wording of it, is in the training set. Held-out cases reuse the
same table and column names in new combinations and phrasings.

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

TABLES = ["orders", "customers", "products", "users", "invoices", "employees", "books",
          "suppliers"]
COLUMNS = ["id", "name", "email", "price", "status", "created_at"]

# kind -> (phrasings, answer); {t} table, {c} column
KINDS: dict[str, tuple[list[str], str]] = {
    "count": ([
        "count the rows of table {t}",
        "how many rows does {t} have?",
        "number of records in the {t} table",
        "give me the row count of {t}",
        "how many entries are in {t}?",
        "count everything in {t}",
    ], "SELECT COUNT(*) FROM {t};"),
    "all": ([
        "show everything in {t}",
        "list all rows from {t}",
        "select every column of the {t} table",
        "dump the whole {t} table",
        "get all records from {t}",
        "display the table {t}",
    ], "SELECT * FROM {t};"),
    "delete": ([
        "delete all rows from {t}",
        "empty the {t} table",
        "remove every record in {t}",
        "clear out table {t}",
        "wipe all data from {t} but keep the table",
    ], "DELETE FROM {t};"),
    "drop": ([
        "drop the table {t}",
        "remove the {t} table completely",
        "destroy table {t} and its schema",
        "get rid of the {t} table for good",
    ], "DROP TABLE {t};"),
    "order": ([
        "sort the rows of {t} by {c}",
        "list everything in {t} ordered by {c}",
        "show {t} sorted on the {c} column",
        "get all of {t}, ordered by {c}",
    ], "SELECT * FROM {t} ORDER BY {c};"),
    "column": ([
        "list the {c} column of {t}",
        "show only {c} from the {t} table",
        "select {c} from every row of {t}",
        "what are the {c} values in {t}?",
    ], "SELECT {c} FROM {t};"),
}
PREFIXES = ["", "", "", "SQL: ", "sql: ", "In SQL, "]


def cases() -> list[tuple[str, str]]:
    """Every (phrasing, answer) the templates make, in a fixed order."""
    out: list[tuple[str, str]] = []
    for phrasings, answer in KINDS.values():
        for template in phrasings:
            for t in TABLES:
                for c in COLUMNS if "{c}" in template else [""]:
                    out.append((template.format(t=t, c=c), answer.format(t=t, c=c)))
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
