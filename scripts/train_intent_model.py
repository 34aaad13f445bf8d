"""Train the router's intent model (hxpm/routing/intent_model.py) and write
hxpm/routing/intent_model.txt, or check that the shipped file is what training gives.

    .venv/bin/python scripts/train_intent_model.py          # (re)write the model
    .venv/bin/python scripts/train_intent_model.py --check  # exit 1 if it differs

Rows: every prompt set in tests/fixtures/routing (``none`` is a general prompt, any expert a
request for one), hxpm's bundled generic prompts, and the first 150 training prompts of each
demo expert after a seeded shuffle (its generator's phrasing, kept few so that the hand-written
requests weigh as much). Technology words are masked: hxpm's own (languages, formats,
aliases) and the demo experts' keywords, as the router masks an installed expert's.
Deterministic: sorted files, a fixed seed, rounded weights.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hxpm.routing.intent_model import (  # noqa: E402
    MODEL_FILE,
    dump,
    static_tech_words,
    train,
)
from hxpm.routing.profile import generic_prompts  # noqa: E402
from hxpm.routing.text import tokenize  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "routing"
EXPERTS = ROOT / "experts"
OUT = ROOT / "hxpm" / "routing" / MODEL_FILE
PER_EXPERT = 150
SEED = 0


def fixture_rows() -> list[tuple[str, bool]]:
    rows = []
    for path in sorted(FIXTURES.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                prompt, label = line.split("\t")
                rows.append((prompt, label != "none"))
    return rows


def expert_rows() -> list[tuple[str, bool]]:
    rows = []
    for manifest in sorted(EXPERTS.glob("*/manifest.json")):
        data = manifest.parent / "datasets" / "train.jsonl"
        prompts = [json.loads(ln)["prompt"] for ln in data.read_text().splitlines() if ln]
        random.Random(f"{SEED}:{manifest.parent.name}").shuffle(prompts)
        rows += [(p, True) for p in prompts[:PER_EXPERT]]
    return rows


def tech_words() -> frozenset[str]:
    words = set(static_tech_words())
    for manifest in sorted(EXPERTS.glob("*/manifest.json")):
        routing = json.loads(manifest.read_text()).get("routing") or {}
        for keyword in routing.get("keywords", []):
            words.update(tokenize(keyword).words)
    return frozenset(words)


def build() -> str:
    rows = fixture_rows() + [(p, False) for p in generic_prompts()] + expert_rows()
    model = train(((tokenize(p).words, asks) for p, asks in rows), tech_words(), seed=SEED)
    asks = sum(1 for _, a in rows if a)
    header = [
        "The router's intent model: P(a request for an expert) = logistic(bias + sum of the",
        "weights of the prompt's features). Written by scripts/train_intent_model.py; do not",
        f"edit. Trained on {len(rows)} prompts: {asks} requests for an expert and",
        f"{len(rows) - asks} general prompts (tests/fixtures/routing, the bundled generic",
        f"prompts, {PER_EXPERT} training prompts of each demo expert); seed {SEED}.",
    ]
    return dump(model, header)


def main(argv: list[str]) -> int:
    text = build()
    if "--check" in argv:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT.name}: {'up to date' if same else 'differs from what training gives'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {text.count(chr(10))} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
