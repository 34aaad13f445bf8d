#!/usr/bin/env python3
"""Write the training and held-out sets as JSONL, one {"prompt", "completion"} per line.

The example task (turn a list of fields into a JSON object) is a placeholder: replace
``make_example`` with your own task and keep the rest. The output depends only on the
arguments, so the same seed always gives the same files (commit the generator, and
the data if it is small).

    python datasets/generate.py                                  # 2000 train, 200 held out
    python datasets/generate.py --train 8 --heldout 4 --seed 0   # the sample shipped here

Held-out prompts never appear in the training set.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Edsger",
    "Radia",
    "Donald",
)
CITIES = (
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Lima",
    "Osaka",
    "Toronto",
    "Cairo",
    "Porto",
    "Hanoi",
    "Quito",
)


def make_example(rng: random.Random) -> dict[str, str]:
    """One example. Replace this with your task: the prompt in, the exact answer out."""
    name, city, age = rng.choice(NAMES), rng.choice(CITIES), rng.randint(18, 90)
    prompt = f"Return a JSON object for: name={name}, city={city}, age={age}"
    completion = json.dumps({"name": name, "city": city, "age": age})
    return {"prompt": prompt, "completion": completion}


def generate(
    n_train: int, n_heldout: int, seed: int
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Distinct examples, split into (train, heldout) with no prompt in both."""
    rng = random.Random(seed)
    wanted = n_train + n_heldout
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for _ in range(wanted * 50):  # bounded: a small task space cannot loop forever
        if len(rows) == wanted:
            break
        row = make_example(rng)
        if row["prompt"] not in seen:
            seen.add(row["prompt"])
            rows.append(row)
    if len(rows) < wanted:
        raise SystemExit(f"only {len(rows)} distinct examples found, {wanted} asked for")
    return rows[n_heldout:], rows[:n_heldout]


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_bytes(text.encode("utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000, help="training examples")
    parser.add_argument("--heldout", type=int, default=200, help="held-out examples")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    train, heldout = generate(args.train, args.heldout, args.seed)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "heldout.jsonl", heldout)
    print(f"wrote {len(train)} training and {len(heldout)} held-out examples to {args.out}")


if __name__ == "__main__":
    main()
