#!/usr/bin/env python3
"""Synthetic dataset for expert-english-basic: is a sentence a question, a statement or a
command?

"Sentence type: can your friend open the window" -> ``question``

Sentences are built from a small English grammar (subjects, verb phrases, auxiliaries,
question words) and written in lower case without end punctuation, so the answer depends
on word order ("can she open the door" vs "she can open the door" vs "open the door"), not
on a question mark. The answer is one word: ``question``, ``statement`` or ``command``.
Small enough that a LoRA on hxpm's random tiny demo base can learn it in a few hundred CPU
steps.

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *sentence*: no held-out sentence appears in the
training set in any wording of the instruction.

    python datasets/generate.py [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SEED = 0
N_TRAIN = 1200
N_HELDOUT = 120

SUBJECTS = ["the cat", "my brother", "the teacher", "our neighbours", "she", "they", "he",
            "the old man", "your friend", "we", "the children", "my aunt"]
# (base form, past form, objects)
VERBS = [
    ("open", "opened", ["the window", "the door", "the box"]),
    ("close", "closed", ["the gate", "the shop", "the curtains"]),
    ("read", "read", ["the letter", "the book", "the report"]),
    ("wash", "washed", ["the car", "the dishes", "the dog"]),
    ("call", "called", ["the doctor", "the office", "a taxi"]),
    ("bring", "brought", ["the keys", "some water", "the chairs"]),
    ("clean", "cleaned", ["the kitchen", "the room", "the windows"]),
    ("paint", "painted", ["the fence", "the wall", "the boat"]),
    ("find", "found", ["the map", "the ticket", "a pen"]),
    ("take", "took", ["the bus", "the train", "the stairs"]),
    ("fix", "fixed", ["the bike", "the roof", "the lamp"]),
    ("visit", "visited", ["the museum", "the park", "the market"]),
]
AUX = ["can", "will", "should", "must", "could"]
WH = ["why", "when", "where", "how"]

# (template, label); {s} subject, {b} base verb, {p} past verb, {o} object, {a} auxiliary,
# {w} question word
SENTENCES = [
    ("{s} {p} {o}", "statement"),
    ("{s} {a} {b} {o}", "statement"),
    ("{s} did not {b} {o}", "statement"),
    ("{s} {p} {o} yesterday", "statement"),
    ("{s} {p} {o} {w2}", "statement"),
    ("did {s} {b} {o}", "question"),
    ("{a} {s} {b} {o}", "question"),
    ("{w} did {s} {b} {o}", "question"),
    ("{w} {a} {s} {b} {o}", "question"),
    ("who {p} {o}", "question"),
    ("{b} {o}", "command"),
    ("please {b} {o}", "command"),
    ("{b} {o} now", "command"),
    ("do not {b} {o}", "command"),
    ("{b} {o} for me", "command"),
    ("{b} {o} before lunch", "command"),
    ("{b} {o} {w2}", "command"),
    ("please {b} {o} now", "command"),
    ("just {b} {o}", "command"),
    ("go and {b} {o}", "command"),
    ("{b} {o} quickly", "command"),
    ("never {b} {o}", "command"),
    ("always {b} {o} first", "command"),
]
WHEN_WORDS = ["today", "last week", "again", "at noon"]
INSTRUCTIONS = [
    "Is this a question, a statement or a command? {x}",
    "Sentence type: {x}",
    "Label the sentence as question, statement or command: {x}",
    "What kind of sentence is this: {x}",
    "question, statement or command? {x}",
    "English. Classify the sentence \"{x}\"",
]


def sentences() -> list[tuple[str, str]]:
    """Every (sentence, label) the grammar makes, in a fixed order, without duplicates."""
    out: dict[str, str] = {}
    for template, label in SENTENCES:
        for s in SUBJECTS if "{s}" in template else [""]:
            for b, p, objects in VERBS:
                for o in objects:
                    for a in AUX if "{a}" in template else [""]:
                        for w in WH if "{w}" in template else [""]:
                            for w2 in WHEN_WORDS if "{w2}" in template else [""]:
                                text = template.format(s=s, b=b, p=p, o=o, a=a, w=w, w2=w2)
                                out.setdefault(text, label)
    return sorted(out.items())


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout), balanced over the three labels; held-out sentences are unseen."""
    rng = random.Random(seed)
    by_label: dict[str, list[str]] = {}
    for text, label in sentences():
        by_label.setdefault(label, []).append(text)
    rows: dict[str, list[dict]] = {"train": [], "heldout": []}
    for label in sorted(by_label):
        pool = by_label[label]
        rng.shuffle(pool)
        n_held = N_HELDOUT // len(by_label)
        n_train = N_TRAIN // len(by_label)
        for split, texts in (("heldout", pool[:n_held]), ("train", pool[n_held:n_held + n_train])):
            for text in texts:
                prompt = rng.choice(INSTRUCTIONS).format(x=text)
                rows[split].append({"prompt": prompt, "completion": label})
    rng.shuffle(rows["train"])
    rng.shuffle(rows["heldout"])
    return rows["train"], rows["heldout"]


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
