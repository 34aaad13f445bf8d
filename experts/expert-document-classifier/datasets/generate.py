#!/usr/bin/env python3
"""Synthetic dataset for expert-document-classifier: label a short document, answer in JSON.

"Classify this document: Invoice 4471: 3 x desk lamp at $120. Total due by 12 May."
-> ``{"label": "invoice"}``

Five labels (invoice, recipe, news, bug_report, contract). Each document is one or two
sentences from a per-label set of templates, with slots (numbers, names, places, products)
shared across labels, sometimes behind a neutral opener ("Forwarded:", "From the archive:"),
so that the label depends on the wording, not on a fixed position. Small enough that a LoRA
on hxpm's random tiny demo base, stacked on expert-json, expert-english-basic and
expert-cypher, can learn it in a few hundred CPU steps. Scored with ``json_exact``.

Deterministic: the same seed writes the same bytes. Writes ``train.jsonl`` and
``heldout.jsonl`` (one ``{"prompt": ..., "completion": ...}`` object per line) next to this
script, or into ``--out``. The split is by *document*: no held-out document appears in the
training set in any wording of the instruction.

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

LABELS = ["invoice", "recipe", "news", "bug_report", "contract"]
SLOTS = {
    "num": ["4471", "1032", "88", "2519", "730", "6604"],
    "qty": ["2", "3", "4", "5", "12"],
    "price": ["120", "45", "980", "15", "300"],
    "date": ["12 May", "3 June", "1 March", "30 April", "9 October"],
    "day": ["Monday", "Tuesday", "Friday", "Sunday"],
    "company": ["Acme Ltd", "Nordwind", "Blue Harbor", "Kettle & Co"],
    "city": ["Lisbon", "Denver", "Osaka", "Leeds"],
    "product": ["desk lamp", "office chair", "printer paper", "coffee beans"],
    "ingredient": ["butter", "garlic", "honey", "spinach", "lemon"],
    "app": ["the editor", "the mobile app", "the dashboard", "the installer"],
    "button": ["Save", "Export", "Login", "Share"],
}
TEMPLATES: dict[str, list[str]] = {
    "invoice": [
        "Invoice {num}: {qty} x {product} at ${price}. Total due by {date}.",
        "Please pay ${price} for order {num} within 30 days.",
        "Bill to {company}. Amount due: ${price}. Account {num}.",
        "Payment reminder: ${price} for {product} is overdue since {date}.",
    ],
    "recipe": [
        "Mix {qty} cups of flour with {ingredient}, then bake for {num} minutes.",
        "Chop the {ingredient}, add salt and simmer for {qty} minutes.",
        "Preheat the oven. Whisk {qty} eggs with {ingredient} and serve warm.",
        "Serves {qty}. Fry the {ingredient} in oil until golden.",
    ],
    "news": [
        "{city}: the mayor said on {day} that a new park will open soon.",
        "Heavy rain closed roads in {city} on {day}, officials reported.",
        "{company} shares rose {qty} percent on {day}, analysts said.",
        "Thousands marched in {city} on {day}, police said.",
    ],
    "bug_report": [
        "Steps: open {app}, click {button}. Expected: saved. Actual: crash {num}.",
        "{app} freezes when I press {button}. Error code {num}.",
        "Bug: the {button} button does nothing in {app} since version {qty}.0.",
        "Repro: click {button} twice in {app}; stack trace attached.",
    ],
    "contract": [
        "This agreement between {company} and the client starts on {date}.",
        "The tenant shall pay rent of ${price} on the first day of each month.",
        "Both parties agree to these terms. Notice period: {qty} months.",
        "{company} (the Supplier) shall deliver {product} under clause {qty}.",
    ],
}
OPENERS = ["", "", "", "Forwarded: ", "From the archive: ", "Note: ", "Scanned text: "]
INSTRUCTIONS = [
    "Classify this document: {x}",
    "What kind of document is this? Answer in JSON.\n{x}",
    "Document type as JSON: {x}",
    "Label the document (invoice, recipe, news, bug_report, contract):\n{x}",
    "Classify: {x}",
]


def fill(template: str, rng: random.Random) -> str:
    return template.format(**{k: rng.choice(v) for k, v in SLOTS.items()})


def answer(label: str) -> str:
    return json.dumps({"label": label})


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout), balanced over the labels; held-out documents are unseen."""
    rng = random.Random(seed)
    rows: dict[str, list[dict]] = {"train": [], "heldout": []}
    want = {"heldout": N_HELDOUT // len(LABELS), "train": N_TRAIN // len(LABELS)}
    seen: set[str] = set()
    for label in LABELS:
        for split in ("heldout", "train"):
            made = 0
            while made < want[split]:
                doc = rng.choice(OPENERS) + fill(rng.choice(TEMPLATES[label]), rng)
                if doc in seen:
                    continue
                seen.add(doc)
                prompt = rng.choice(INSTRUCTIONS).format(x=doc)
                rows[split].append({"prompt": prompt, "completion": answer(label)})
                made += 1
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
